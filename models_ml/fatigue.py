"""Creative fatigue: which ads' click-through rate decayed from its peak, by how much, since when.

Input: one row per (tenant_id, platform, ad_id, date) with ``impressions, clicks, spend,
conversions`` (``marts.fct_ad_performance_daily``). Output: the rows of ``ml.creative_fatigue``
(INTERFACES.md §7.4), one per ad with enough evidence. Pure: frames in, frames out, no randomness.

Method, per ad (age = days since the ad's first day of delivery):

1. **Weekly bins.** Days are pooled into 7-day age bins (clicks, impressions): a weekday pattern and
   zero-click days do not disturb the fit.
2. **Segmented fit.** ``log CTR(age) = a - b * max(0, age - onset)``: flat until ``onset``, then a
   log-linear decline (a creative that fatigues from launch has ``onset = 0``). For every candidate
   onset (each bin edge that leaves at least ``min_bins_after`` bins after it) ``a, b`` are fitted by
   weighted least squares on the bins' empirical log CTR (weights = clicks, the inverse variance of a
   log rate); the onset with the smallest weighted residual sum wins; ``b < 0`` (a rise) means no decay.
3. **Evidence.** A likelihood-ratio test of the segmented Poisson model (clicks ~ Poisson(impressions
   x CTR(age))) against a constant CTR: ``LR = deviance(constant) - deviance(segmented)``, divided by
   the over-dispersion ``phi`` (Pearson chi^2 / df of the segmented fit, at least 1: real CTRs wobble
   more than binomially). The onset is chosen from the data, so LR is not chi^2(1) under the null;
   the default critical value ``min_lr = 8`` is above the 99th percentile (~6) of LR / phi on
   simulated stable ads (binomial clicks, 10 % daily lognormal CTR noise; see the tests).
4. **Decay.** ``decay = 1 - CTR(last age) / CTR(peak)`` of the fitted curve, i.e.
   ``1 - exp(-b * (last_age - onset))``. ``fatigued`` when ``decay >= min_decay`` and ``LR / phi >=
   min_lr``. ``onset_date`` = first day + onset (null when not fatigued); ``peak_ctr`` and
   ``current_ctr`` are the fitted CTR at the plateau and at the last age; ``evidence_impressions``
   the ad's impressions. Cost per result is reported alongside (before the onset vs the last 14 days).
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
_BIN_DAYS = 7
_RECENT_DAYS = 14  # window of the "current" cost per result

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
    min_lr: float = 8.0
    min_days: int = 28
    min_impressions: float = 10_000.0
    min_clicks: float = 100.0
    min_bins_after: int = 2

    def __post_init__(self) -> None:
        if not 0.0 < self.min_decay < 1.0:
            raise ValueError(f"min_decay must be in (0, 1), got {self.min_decay}")
        if self.min_lr < 0 or self.min_days < 2 * _BIN_DAYS or self.min_bins_after < 1:
            raise ValueError(
                f"need min_lr >= 0, min_days >= {2 * _BIN_DAYS}, min_bins_after >= 1; got "
                f"{self.min_lr}, {self.min_days}, {self.min_bins_after}"
            )


@dataclass(frozen=True)
class _Fit:
    level: float  # a: log CTR of the plateau
    slope: float  # b >= 0: decline of log CTR per day after the onset
    onset: float  # days after the first day
    lr: float  # dispersion-scaled likelihood ratio against a constant CTR


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
    bins = (
        frame.group_by(*_KEYS, (pl.col("age") // _BIN_DAYS).alias("bin"))
        .agg(
            pl.col("impressions").sum(),
            pl.col("clicks").sum(),
            pl.col("age").mean().alias("mid"),
            pl.col("age").min().alias("start"),
        )
        .filter(pl.col("impressions") > 0)
        .sort(*_KEYS, "bin")
    )
    rows: list[dict[str, object]] = []
    ads = frame.partition_by(list(_KEYS), as_dict=True, maintain_order=True)
    for key, ad_bins in bins.partition_by(list(_KEYS), as_dict=True, maintain_order=True).items():
        days = ads[key]
        first: date = days["first_date"][0]
        last: date = days["last_date"][0]
        fit = _fit_segmented(
            ad_bins["clicks"].to_numpy().astype(np.float64),
            ad_bins["impressions"].to_numpy().astype(np.float64),
            ad_bins["mid"].to_numpy().astype(np.float64),
            ad_bins["start"].to_numpy().astype(np.float64),
            settings.min_bins_after,
        )
        last_age = float((last - first).days)
        decay = 1.0 - float(np.exp(-fit.slope * max(last_age - fit.onset, 0.0)))
        fatigued = decay >= settings.min_decay and fit.lr >= settings.min_lr
        onset_date = first + timedelta(days=round(fit.onset))
        rows.append(
            dict(zip(_KEYS, key, strict=True))
            | {
                "fatigued": fatigued,
                "peak_ctr": float(np.exp(fit.level)),
                "current_ctr": float(np.exp(fit.level) * (1.0 - decay)),
                "decay": decay,
                "onset_date": onset_date if fatigued else None,
                "evidence_impressions": int(days["impressions"].sum()),
                "lr_statistic": fit.lr,
                "first_date": first,
                "last_date": last,
                "peak_cost_per_result": _cost_per_result(
                    days.filter(pl.col("date") < max(onset_date, first + timedelta(days=_RECENT_DAYS)))
                ),
                "current_cost_per_result": _cost_per_result(
                    days.filter(pl.col("date") > last - timedelta(days=_RECENT_DAYS))
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


def _fit_segmented(
    clicks: FloatArray, impressions: FloatArray, mid: FloatArray, start: FloatArray, min_after: int
) -> _Fit:
    """Best hinge ``log CTR = a - b max(0, age - onset)`` over the candidate onsets, and its LR."""
    n = clicks.size
    y = np.log((clicks + 0.5) / impressions)  # +0.5: a zero-click bin keeps a finite log rate
    w = clicks + 0.5
    constant_ctr = clicks.sum() / impressions.sum()
    dev_constant = _poisson_deviance(clicks, impressions * constant_ctr)
    onsets = start[: max(n - min_after, 1)]
    hinge = np.maximum(mid[None, :] - onsets[:, None], 0.0)  # (onsets, bins)
    # weighted least squares of y on [1, -hinge] for every onset at once (closed form)
    sw = w.sum()
    ybar = (w * y).sum() / sw
    hbar = (w[None, :] * hinge).sum(axis=1) / sw
    hc = hinge - hbar[:, None]
    sxx = (w[None, :] * hc * hc).sum(axis=1)
    sxy = (w[None, :] * hc * (y - ybar)[None, :]).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(sxx > 0, sxy / sxx, 0.0)  # slope on +hinge; decay b = -coef
    coef = np.minimum(coef, 0.0)  # a rising CTR is not fatigue: flat fit
    level = ybar - coef * hbar
    fitted = level[:, None] + coef[:, None] * hinge
    sse = (w[None, :] * (y[None, :] - fitted) ** 2).sum(axis=1)
    best = int(np.argmin(sse))
    if coef[best] == 0.0:
        return _Fit(float(np.log(max(constant_ctr, 1e-12))), 0.0, 0.0, 0.0)
    mu = impressions * np.exp(fitted[best])
    dev_segmented = _poisson_deviance(clicks, mu)
    dof = max(n - 3, 1)  # level, slope, onset
    phi = max(float(((clicks - mu) ** 2 / mu).sum()) / dof, 1.0)
    lr = max(dev_constant - dev_segmented, 0.0) / phi
    return _Fit(float(level[best]), float(-coef[best]), float(onsets[best]), lr)


def _poisson_deviance(observed: FloatArray, expected: FloatArray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(observed > 0, observed * np.log(observed / expected), 0.0)
    return float(2.0 * (term - (observed - expected)).sum())


def _cost_per_result(days: pl.DataFrame) -> float | None:
    conversions = float(days["conversions"].sum())
    return float(days["spend"].sum()) / conversions if conversions > 0 else None
