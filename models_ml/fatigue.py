"""Creative fatigue: which ads' click-through rate decayed from its peak, by how much, since when.

Input: one row per (tenant_id, platform, ad_id, date) with ``impressions, clicks, spend,
conversions`` (``marts.fct_ad_performance_daily``). Output: the rows of ``ml.creative_fatigue``
(INTERFACES.md §7.4), one per ad with enough evidence. Pure: frames in, frames out, no randomness.

Method, per ad (age = days since the ad's first day of delivery):

1. **The wear-out curve.** ``CTR(age) = A + B g(age)`` with ``g = 1`` until ``onset`` and
   ``0.5 ^ ((age - onset) / halflife)`` after it: a fresh CTR ``A + B`` that decays towards a floor
   ``A`` (a creative that fatigues from launch has ``onset = 0``). For given ``(onset, halflife)`` the
   curve is linear in ``(A, B)``, so it is solved in closed form by weighted least squares on the
   daily CTRs, for every candidate at once; weights ``1 / (ctr / impressions + tau^2 ctr^2)``, the
   variance of a day's CTR (binomial clicks on a CTR with ``tau`` = 10 % daily noise), with ``ctr``
   the ad's mean. ``A >= 0``; ``B <= 0`` (a rise) means no decay.
2. **Search, coarse to fine.** Onsets every 7 days (leaving at least ``min_days_after`` days after the
   onset) x half-lives 4..240 days on a geometric grid; then every day within a week of the best onset
   x half-lives around the best one. The smallest weighted residual sum wins.
3. **Evidence.** ``LR = (SSE(constant) - SSE(curve)) / phi`` with ``phi = SSE(curve) / (n - 4)`` the
   residual scale (day-to-day wobble beyond the assumed noise scales the statistic down). Onset and
   half-life are chosen from the data, so LR is not chi^2 under the null: ``min_lr`` is set above the
   99th percentile of LR on simulated stable ads (see the tests).
4. **Decay.** ``decay = 1 - CTR(last age) / CTR(peak) = B (1 - g(last)) / (A + B)``. ``fatigued``
   when ``decay >= min_decay`` and ``LR >= min_lr``. ``onset_date`` = first day + onset (null when not
   fatigued); ``peak_ctr`` and ``current_ctr`` are the fitted CTR at the plateau and at the last age;
   ``evidence_impressions`` the ad's impressions. Cost per result is reported alongside (before the
   onset vs the last 14 days).
5. **Minimum evidence.** Ads with fewer than ``min_days`` days, ``min_impressions`` impressions or
   ``min_clicks`` clicks are not scored (no row): a verdict on them would be noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from numpy.typing import NDArray

__all__ = ["FATIGUE_SCHEMA", "FatigueSettings", "detect_fatigue"]

_KEYS = ("tenant_id", "platform", "ad_id")
_INPUT = ("impressions", "clicks", "spend", "conversions")
_RECENT_DAYS = 14  # window of the "current" cost per result
_TAU2 = 0.1**2  # squared daily CTR noise (lognormal sd) assumed by the weights
_COARSE_STEP = 7  # days between coarse candidate onsets
_HALFLIVES = np.geomspace(4.0, 240.0, 12)  # coarse candidate half-lives, days
_FINE_HALFLIFE = np.array([0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4])  # fine: x the best coarse one

FATIGUE_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "platform": pl.String(),
    "ad_id": pl.String(),
    "fatigued": pl.Boolean(),
    "peak_ctr": pl.Float64(),
    "current_ctr": pl.Float64(),
    "decay": pl.Float64(),
    "onset_date": pl.Date(),
    "evidence_impressions": pl.Int64(),
    "lr_statistic": pl.Float64(),
    "first_date": pl.Date(),
    "last_date": pl.Date(),
    "peak_cost_per_result": pl.Float64(),
    "current_cost_per_result": pl.Float64(),
}

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FatigueSettings:
    """Detection settings (see the module doc)."""

    min_decay: float = 0.2
    min_lr: float = 10.0
    min_days: int = 28
    min_impressions: float = 10_000.0
    min_clicks: float = 100.0
    min_days_after: int = 10

    def __post_init__(self) -> None:
        if not 0.0 < self.min_decay < 1.0:
            raise ValueError(f"min_decay must be in (0, 1), got {self.min_decay}")
        if self.min_lr < 0 or self.min_days < 14 or not 1 <= self.min_days_after < self.min_days:
            raise ValueError(
                f"need min_lr >= 0, min_days >= 14, 1 <= min_days_after < min_days; got "
                f"{self.min_lr}, {self.min_days}, {self.min_days_after}"
            )


@dataclass(frozen=True)
class _Fit:
    peak: float  # fitted CTR before the onset (A + B)
    decay: float  # 1 - fitted CTR at the last age / peak
    onset: float  # days after the first day
    lr: float  # scale-free likelihood ratio against a constant CTR


def detect_fatigue(daily: pl.DataFrame, settings: FatigueSettings | None = None) -> pl.DataFrame:
    """One ``ml.creative_fatigue`` row per ad with enough evidence; see the module doc."""
    settings = settings or FatigueSettings()
    frame = _clean(daily)
    if frame.height == 0:
        return pl.DataFrame(schema=FATIGUE_SCHEMA)
    frame = frame.with_columns(
        pl.col("date").min().over(_KEYS).alias("first_date"),
        pl.col("date").max().over(_KEYS).alias("last_date"),
    ).with_columns((pl.col("date") - pl.col("first_date")).dt.total_days().alias("age"))
    totals = frame.group_by(_KEYS).agg(
        pl.col("impressions").sum(),
        pl.col("clicks").sum(),
        ((pl.col("last_date") - pl.col("first_date")).dt.total_days().first() + 1).alias("days"),
    )
    eligible = totals.filter(
        (pl.col("days") >= settings.min_days)
        & (pl.col("impressions") >= settings.min_impressions)
        & (pl.col("clicks") >= settings.min_clicks)
    ).select(_KEYS)
    frame = frame.join(eligible, on=list(_KEYS), how="semi")
    rows: list[dict[str, object]] = []
    for key, days in frame.sort("date").partition_by(list(_KEYS), as_dict=True, maintain_order=True).items():
        first: date = days["first_date"][0]
        last: date = days["last_date"][0]
        age = days["age"].to_numpy().astype(np.float64)
        spend, conversions = days["spend"].to_numpy(), days["conversions"].to_numpy()
        fit = _fit_curve(
            age,
            days["impressions"].to_numpy(),
            days["clicks"].to_numpy(),
            settings.min_days_after,
        )
        decay = fit.decay
        fatigued = decay >= settings.min_decay and fit.lr >= settings.min_lr
        onset_date = first + timedelta(days=round(fit.onset))
        rows.append(
            dict(zip(_KEYS, key, strict=True))
            | {
                "fatigued": fatigued,
                "peak_ctr": fit.peak,
                "current_ctr": fit.peak * (1.0 - decay),
                "decay": decay,
                "onset_date": onset_date if fatigued else None,
                "evidence_impressions": int(days["impressions"].sum()),
                "lr_statistic": fit.lr,
                "first_date": first,
                "last_date": last,
                "peak_cost_per_result": _cost_per_result(
                    spend, conversions, age < max((onset_date - first).days, _RECENT_DAYS)
                ),
                "current_cost_per_result": _cost_per_result(
                    spend, conversions, age > (last - first).days - _RECENT_DAYS
                ),
            }
        )
    if not rows:
        return pl.DataFrame(schema=FATIGUE_SCHEMA)
    return pl.DataFrame(rows, schema=FATIGUE_SCHEMA).sort(*_KEYS)


def _clean(daily: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in (*_KEYS, "date", *_INPUT) if c not in daily.columns]
    if missing:
        raise ValueError(f"ad daily frame is missing column(s) {missing}; it has {daily.columns}")
    frame = daily.select(
        *[pl.col(k).cast(pl.String) for k in _KEYS],
        pl.col("date").cast(pl.Date),
        *[pl.col(c).cast(pl.Float64).fill_null(0.0) for c in _INPUT],
    )
    bad = frame.filter(pl.any_horizontal(pl.col(*_KEYS, "date").is_null()))
    if bad.height:
        raise ValueError(f"ad daily frame has {bad.height} row(s) with a null key or date, e.g. {bad.row(0)}")
    impossible = frame.filter(
        pl.any_horizontal(pl.col(*_INPUT) < 0) | (pl.col("clicks") > pl.col("impressions"))
    )
    if impossible.height:
        raise ValueError(
            f"ad daily frame has {impossible.height} row(s) with negative metrics or more clicks than "
            f"impressions, e.g. {impossible.row(0)}"
        )
    dupes = frame.filter(pl.struct(*_KEYS, "date").is_duplicated())
    if dupes.height:
        raise ValueError(
            "ad daily frame must have one row per (tenant_id, platform, ad_id, date); "
            f"{dupes.height} rows are duplicated, e.g. {dupes.select(*_KEYS, 'date').row(0)}"
        )
    return frame.filter(pl.col("impressions") > 0)


def _fit_curve(age: FloatArray, impressions: FloatArray, clicks: FloatArray, min_after: int) -> _Fit:
    """Best wear-out curve ``A + B g(age; onset, halflife)`` by weighted least squares, and its LR."""
    mean_ctr = max(float(clicks.sum() / impressions.sum()), 1e-9)
    y = clicks / impressions
    w = 1.0 / (mean_ctr / impressions + _TAU2 * mean_ctr**2)
    sw = w.sum()
    ybar = float((w * y).sum() / sw)
    yc = y - ybar
    sse0 = float((w * yc * yc).sum())
    last = float(age.max())
    latest = max(last - min_after, 0.0)

    wy, wyc = w * y, w * yc
    syy = float((wy * y).sum())

    def solve(onsets: FloatArray, halflives: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        # g[k, day] for candidate k; every sum over days is a matrix-vector product
        g = np.exp(np.maximum(age[None, :] - onsets[:, None], 0.0) * (-np.log(2.0) / halflives[:, None]))
        swg = g @ w
        swgg = (g * g) @ w
        swgy = g @ wy
        gbar = swg / sw
        sgg = swgg - sw * gbar * gbar
        sgy = g @ wyc
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(sgg > 1e-12 * swgg, sgy / sgg, 0.0)
            b0 = np.where(swgg > 0, swgy / swgg, 0.0)
        a = ybar - b * gbar
        sse = sse0 - b * sgy
        # a floor below zero is impossible: refit through the origin (CTR = B g)
        negative = a < 0
        a = np.where(negative, 0.0, a)
        b = np.where(negative, b0, b)
        sse = np.where(negative, syy - b0 * swgy, sse)
        rising = b <= 0  # no decline: the constant CTR
        return np.where(rising, ybar, a), np.where(rising, 0.0, b), np.where(rising, sse0, sse)

    coarse_onsets = np.arange(0.0, latest + 1.0, _COARSE_STEP)
    onsets = np.repeat(coarse_onsets, _HALFLIVES.size)
    halflives = np.tile(_HALFLIVES, coarse_onsets.size)
    a, b, sse = solve(onsets, halflives)
    best = int(np.argmin(sse))
    fine_onsets = np.arange(max(onsets[best] - 6, 0.0), min(onsets[best] + 6, latest) + 1.0)
    fine_halflives = halflives[best] * _FINE_HALFLIFE
    onsets = np.repeat(fine_onsets, fine_halflives.size)
    halflives = np.tile(fine_halflives, fine_onsets.size)
    a, b, sse = solve(onsets, halflives)
    best = int(np.argmin(sse))
    if b[best] <= 0:
        return _Fit(mean_ctr, 0.0, 0.0, 0.0)
    peak = float(a[best] + b[best])
    g_last = 0.5 ** (max(last - onsets[best], 0.0) / halflives[best])
    decay = float(b[best] * (1.0 - g_last) / peak)
    phi = max(float(sse[best]) / max(age.size - 4, 1), 1e-12)
    return _Fit(peak, decay, float(onsets[best]), max(sse0 - float(sse[best]), 0.0) / phi)


def _cost_per_result(spend: FloatArray, conversions: FloatArray, window: NDArray[np.bool_]) -> float | None:
    total = float(conversions[window].sum())
    return float(spend[window].sum()) / total if total > 0 else None
