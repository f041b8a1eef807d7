"""Campaign anomalies: each day against the same weekday of the previous weeks, scored robustly.

Input: ``marts.fct_ad_performance_daily`` aggregated to one row per (tenant_id, platform, campaign_id,
date) with ``spend, impressions, clicks, conversions, revenue``. Output: the rows of ``ml.anomalies``
(INTERFACES.md §7.4), one per flagged (campaign, metric, day), grouped into alerts (``alert_id``).
Optional: the planned daily budgets per campaign (``budgets``). Pure: frames in, frames out.

Method, per campaign and metric (``spend``, ``conversions``, ``cpa`` = spend / conversions, ``ctr`` =
clicks / impressions, ``roas`` = revenue / spend):

1. **Dense days.** A campaign's days run from its first to its last row; a missing day inside is a
   day with zero delivery (the platforms omit such rows).
2. **Scoring scale.** Conversions are scored on Anscombe's root scale ``2 sqrt(x + 3/8)`` (Poisson
   noise has unit spread there), spend and the ratios on the log scale (a halving and a doubling are
   equally far). ``expected`` is reported back on the metric's own scale.
3. **Same-weekday baseline.** For day ``t`` the reference values are the metric on ``t - 7j``,
   ``j = 1..weeks`` (the last ``weeks`` same weekdays; weekly patterns are strong in ad delivery),
   on the scoring scale. The centre is their median, the spread ``1.4826 * MAD`` (a robust standard
   deviation: one earlier outlier does not mask the next one). At least ``min_weeks`` are needed.
4. **Noise floor.** The spread is floored so that a calm history does not turn noise into alarms: at
   a relative change of ``rel_floor`` and at the sampling noise of one day: 1 for conversions (the
   root scale), ``1 / sqrt(clicks)`` for CTR and ``1 / sqrt(conversions)`` for CPA and ROAS (log scale,
   at the baseline's volume).
5. **Score.** ``score = (scaled value - centre) / spread``; ``direction`` is ``up``/``down``; a day is flagged
   when ``|score| >= threshold``. ``severity``: ``high`` when ``|score| >= 2 * threshold`` and the value is
   off by at least 50 % of expected, ``medium`` when ``|score| >= 1.5 * threshold``, else ``low``.
6. **Minimum effect.** A flagged day must also be off by at least ``min_change`` of expected (a
   significant 10 % move is rarely worth an alert).
7. **Root cause (optional).** CPA and ROAS are ratios of the other metrics: with ``explain_ratios``
   a CPA/ROAS flag is dropped when spend or conversions is flagged on the same campaign and day, so an
   incident is reported once. Off by default: an injected CPA spike is a spend spike at the same
   results, and dropping its CPA row would hide the metric the incident is about.
8. **Planned budgets.** With ``budgets``, spend is scored as pacing, ``log(spend + 1) - log(budget +
   1)``, on the days whose budget is known (``basis`` = ``budget``): a spend step that follows a budget
   change is expected; ``expected`` is reported in currency at the day's budget. A budget history may
   cover only part of a campaign's life (Google's change_event keeps 30 days; no change log at all on
   some platforms), so the choice is made per day: pacing once the day and at least ``min_weeks`` of its
   reference days have a known budget, else the spend's own history (``basis`` = ``history``). On the
   history basis a budget change looks like an anomaly, and planned budget changes halve or double
   spend (on the demo world they were all the false spend alarms, at 0.45-2.1x), so a spend move
   counts there only outside ``[history_spend_down, history_spend_up]`` (0.4, 2) times the expected
   (Google may spend up to twice a daily budget on a day by design): a
   runaway (a pacing bug, a mistyped budget: 2.5x and more) or spend collapsing (disapproved ads, a
   failed payment). A move that holds over the next ``level_shift_days`` (median spend keeps half of
   the excess) is a new budget level and is not flagged once those days are in; the latest days stay
   flagged until then. The recent level (median of the previous ``level_days``) also follows steps, and
   at 14 days a 1-3 day runaway does not drag it (7 days did: the days after a runaway then looked like
   drops).
9. **Persistence and runs.** CTR moves with the ad mix: a CTR flag needs ``persist_days`` days in a
   row. Low-volume drops (a tracking outage at 3 conversions a day) build up as Stouffer run scores
   over up to ``run_days`` days (see ``_run_score``).
10. **Alerts.** Flagged rows of one campaign (any metric) with at most ``alert_gap_days`` quiet days
   between them share an ``alert_id`` (one incident, one alert); ``summarize_alerts`` gives one row
   per alert.
11. **Minimum volume.** Tiny campaigns do not alarm: a day is scored only when the baseline carries
   enough volume: expected spend ``>= min_spend`` (all metrics), expected impressions ``>=
   min_impressions`` and clicks ``>= min_clicks`` (CTR: a search campaign has few impressions but
   many clicks), expected conversions ``>= min_conversions`` (conversions, CPA, ROAS); CPA and ROAS
   also need conversions on the day itself (otherwise they are undefined or 0 by chance; the
   conversion drop shows up under ``conversions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = [
    "ANOMALY_SCHEMA",
    "METRICS",
    "AnomalySettings",
    "detect_anomalies",
    "score_campaign_days",
    "summarize_alerts",
]

METRICS: tuple[str, ...] = ("spend", "cpa", "ctr", "conversions", "roas")
_KEYS = ("tenant_id", "platform", "campaign_id")
_INPUT = ("spend", "impressions", "clicks", "conversions", "revenue")
_PACED = "spend_paced"  # spend scored as pacing against a known budget
_MAD_TO_SD = 1.4826  # MAD of a normal sample x 1.4826 = its standard deviation

ANOMALY_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "platform": pl.String(),
    "campaign_id": pl.String(),
    "metric": pl.String(),
    "date": pl.Date(),
    "value": pl.Float64(),
    "expected": pl.Float64(),
    "score": pl.Float64(),
    "direction": pl.String(),
    "severity": pl.String(),
    "alert_id": pl.String(),
}


@dataclass(frozen=True)
class AnomalySettings:
    """Detection settings (see the module doc); the defaults suit daily campaign data."""

    weeks: int = 8
    level_days: int = 14  # 0: the plain same-weekday median (no recent-level adjustment)
    run_days: int = 3  # > 1: also Stouffer run scores over up to run_days days
    min_weeks: int = 4
    threshold: float = 5.0
    rel_floor: float = 0.1
    min_spend: float = 20.0
    min_impressions: float = 200.0
    min_clicks: float = 20.0
    min_conversions: float = 3.0
    min_change: float = 0.5
    history_spend_up: float = 2.0  # spend without a known budget: flag above 2x the expected ...
    history_spend_down: float = 0.4  # ... or below 40 % of it (see the module doc, 8)
    level_shift_days: int = 7  # history-basis spend: a move that holds over the next days is a new level
    explain_ratios: bool = False
    persist_metrics: Sequence[str] = ("ctr",)
    persist_days: int = 2
    alert_gap_days: int = 1  # flagged days of a campaign with at most this many quiet days between: one alert
    metrics: Sequence[str] = METRICS

    def __post_init__(self) -> None:
        if self.weeks < 1 or not 1 <= self.min_weeks <= self.weeks:
            raise ValueError(
                f"need 1 <= min_weeks <= weeks, got min_weeks={self.min_weeks}, weeks={self.weeks}"
            )
        if not 0 <= self.history_spend_down < 1 < self.history_spend_up:
            raise ValueError(
                "need 0 <= history_spend_down < 1 < history_spend_up, got "
                f"{self.history_spend_down}, {self.history_spend_up}"
            )
        if self.threshold <= 0 or self.rel_floor < 0:
            raise ValueError(
                f"threshold must be > 0 and rel_floor >= 0, got {self.threshold}, {self.rel_floor}"
            )
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown or isinstance(self.metrics, str) or not self.metrics:
            raise ValueError(f"metrics must be drawn from {list(METRICS)}, got {self.metrics!r}")


def score_campaign_days(
    daily: pl.DataFrame, settings: AnomalySettings | None = None, budgets: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every scorable (campaign, metric, day) with value, expected, spread and score (long format).

    The full scoring behind ``detect_anomalies``: useful to inspect why a day was or was not flagged.
    Columns: the keys, metric, date, value, expected, spread (on the metric's scoring scale), score,
    eligible (the volume rules hold), basis (``budget``: spend as pacing against a known budget;
    ``history``: everything else). ``budgets``: see ``detect_anomalies``.
    """
    settings = settings or AnomalySettings()
    dense = _with_budgets(_dense_days(daily), budgets)
    # Spend is scored on two bases, chosen per day below: its own history, and pacing against the
    # budget where one is known ("spend_paced": null on days without a budget).
    series = list(settings.metrics)
    if "spend" in series and budgets is not None:
        series.append(_PACED)
    values = dense.with_columns(
        pl.col("spend").alias("spend_value"),
        pl.when(pl.col("budget").is_not_null()).then(pl.col("spend")).alias(f"{_PACED}_value"),
        pl.col("conversions").alias("conversions_value"),
        pl.when(pl.col("conversions") > 0).then(pl.col("spend") / pl.col("conversions")).alias("cpa_value"),
        pl.when(pl.col("impressions") > 0).then(pl.col("clicks") / pl.col("impressions")).alias("ctr_value"),
        pl.when((pl.col("spend") > 0) & (pl.col("conversions") > 0))
        .then(pl.col("revenue") / pl.col("spend"))
        .alias("roas_value"),
    )
    values = values.with_columns(
        [(_transform(_base(m), pl.col(f"{m}_value")) - _offset(m)).alias(f"{m}_scaled") for m in series]
    )
    # Recent level: the median of the previous level_days days (follows budget steps within days).
    if settings.level_days:
        values = values.with_columns(
            pl.col(f"{m}_scaled")
            .shift(1)
            .rolling_median(settings.level_days, min_samples=settings.level_days // 2 + 1)
            .over(_KEYS)
            .alias(f"{m}_level")
            for m in series
        )
    else:
        values = values.with_columns(pl.lit(0.0).alias(f"{m}_level") for m in series)
    values = values.with_columns(
        (pl.col(f"{m}_scaled") - pl.col(f"{m}_level")).alias(f"{m}_resid") for m in series
    )
    # Reference columns: the same weekday 1..weeks weeks back, per campaign (rows are dense and sorted).
    lags = range(1, settings.weeks + 1)
    refs = [
        pl.concat_list([pl.col(f"{m}_resid").shift(7 * j).over(_KEYS) for j in lags]).alias(f"{m}_refs")
        for m in series
    ] + [
        pl.concat_list([pl.col(v).shift(7 * j).over(_KEYS) for j in lags]).list.median().alias(f"base_{v}")
        for v in ("spend", "impressions", "clicks", "conversions")
    ]
    values = values.with_columns(refs)
    parts: dict[str, pl.DataFrame] = {}
    for metric in series:
        refs_col = pl.col(f"{metric}_refs").list.drop_nulls()
        part = values.select(
            *_KEYS,
            "date",
            pl.lit(_base(metric)).alias("metric"),
            pl.col(f"{metric}_value").alias("value"),
            pl.col(f"{metric}_scaled").alias("scaled"),
            (pl.col(f"{metric}_level") + refs_col.list.median()).alias("centre"),
            _offset(metric).alias("offset"),
            refs_col.list.eval((pl.element() - pl.element().median()).abs().median())
            .list.first()
            .alias("mad"),
            refs_col.list.len().alias("n_refs"),
            "conversions",
            "base_spend",
            "base_impressions",
            "base_clicks",
            "base_conversions",
        )
        basis = "budget" if metric == _PACED else "history"
        parts[metric] = _score(part, _base(metric), settings).with_columns(pl.lit(basis).alias("basis"))
    if _PACED in parts:  # per day: pacing where it could be scored, else the spend's own history
        paced = parts.pop(_PACED).filter(pl.col("eligible"))
        parts["spend"] = pl.concat(
            [paced, parts["spend"].join(paced.select(*_KEYS, "date"), on=[*_KEYS, "date"], how="anti")]
        )
    if not parts:
        return pl.DataFrame()
    return pl.concat(list(parts.values())).sort(*_KEYS, "metric", "date")


def detect_anomalies(
    daily: pl.DataFrame, settings: AnomalySettings | None = None, budgets: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The flagged (campaign, metric, day) rows of ``ml.anomalies``; see the module doc.

    ``budgets`` (optional): the planned daily budget per campaign, columns tenant_id, platform,
    campaign_id, date, daily_budget; one row per day or one per change (carried forward). With it,
    spend is scored as pacing against the budget, so planned budget changes do not alarm.
    """
    settings = settings or AnomalySettings()
    scored = score_campaign_days(daily, settings, budgets)
    if scored.height == 0:
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    t = settings.threshold
    relative = (pl.col("value") / pl.col("expected") - 1.0).abs()
    ratio = pl.col("value") / pl.col("expected")
    outside_budget_moves = (ratio >= settings.history_spend_up) | (ratio <= settings.history_spend_down)
    if settings.level_shift_days:
        outside_budget_moves &= ~_holds_after(settings.level_shift_days)
    hit = (
        pl.col("eligible")
        & (pl.col("score").abs() >= t)
        & (relative >= settings.min_change)
        & ((pl.col("metric") != "spend") | (pl.col("basis") != "history") | outside_budget_moves)
    )
    # Persistence: on noisy metrics (CTR moves with the ad mix) a flag needs persist_days days in a row
    # flagged the same way (the flag counts from day persist_days of a run).
    signed = pl.when(hit).then(pl.col("score").sign()).otherwise(0.0)
    n = settings.persist_days
    persistent = (
        signed.rolling_sum_by("date", window_size=f"{n}d").over(*_KEYS, "metric").abs() >= n
        if n > 1
        else pl.lit(True)
    )
    flagged = scored.filter(hit & (~pl.col("metric").is_in(list(settings.persist_metrics)) | persistent))
    if settings.explain_ratios:
        causes = (
            flagged.filter(pl.col("metric").is_in(["spend", "conversions"]))
            .select(*_KEYS, "date")
            .unique()
            .with_columns(pl.lit(True).alias("_explained"))
        )
        flagged = (
            flagged.join(causes, on=[*_KEYS, "date"], how="left")
            .filter(~(pl.col("metric").is_in(["cpa", "roas"]) & pl.col("_explained").fill_null(False)))
            .drop("_explained")
        )
    return _group_alerts(
        flagged.with_columns(
            pl.when(pl.col("score") > 0).then(pl.lit("up")).otherwise(pl.lit("down")).alias("direction"),
            pl.when((pl.col("score").abs() >= 2 * t) & (relative >= 0.5))
            .then(pl.lit("high"))
            .when(pl.col("score").abs() >= 1.5 * t)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
            .alias("severity"),
        ).drop("spread", "daily_score", "eligible", "basis"),
        settings.alert_gap_days,
    )


def _holds_after(days: int) -> pl.Expr:
    """Spend rows whose move holds: over the next ``days`` days (at least half of them observed), the
    median spend keeps at least half of the day's distance from expected, on the same side. On the
    history basis that is a new budget level, not an incident (a runaway or a collapse reverts, or is
    a budget change). The latest days have no future yet: they stay flagged until it arrives."""
    ahead = (
        pl.col("value")
        .reverse()
        .shift(1)
        .rolling_median(days, min_samples=max(days // 2, 1))
        .reverse()
        .over(*_KEYS, "metric", order_by="date")
    )
    excess = pl.col("value") - pl.col("expected")
    return ((ahead - pl.col("expected")) * excess.sign() >= excess.abs() / 2.0).fill_null(False)


def _group_alerts(flagged: pl.DataFrame, gap_days: int) -> pl.DataFrame:
    """Adds ``alert_id``: flagged rows of one campaign (any metric) with at most ``gap_days`` quiet
    days between them form one alert (one incident = one alert); id = campaign + first day."""
    if flagged.height == 0:
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    days = flagged.select(*_KEYS, "date").unique().sort(*_KEYS, "date")
    days = days.with_columns(
        (
            (pl.col("date") - pl.col("date").shift(1).over(_KEYS)).dt.total_days().fill_null(gap_days + 2)
            > gap_days + 1
        )
        .cum_sum()
        .over(_KEYS)
        .alias("_run")
    ).with_columns(
        pl.format(
            "{}:{}:{}:{}", *_KEYS, pl.col("date").min().over(*_KEYS, "_run").dt.strftime("%Y-%m-%d")
        ).alias("alert_id")
    )
    return (
        flagged.join(days.select(*_KEYS, "date", "alert_id"), on=[*_KEYS, "date"])
        .select(list(ANOMALY_SCHEMA))
        .cast(ANOMALY_SCHEMA)  # type: ignore[arg-type]
        .sort(*_KEYS, "metric", "date")
    )


def summarize_alerts(anomalies: pl.DataFrame) -> pl.DataFrame:
    """One row per alert of ``detect_anomalies``' output: keys, alert_id, start_date, end_date, days
    flagged, metrics (sorted, comma-joined), severity (the worst), max_abs_score."""
    rank = pl.col("severity").replace_strict({"low": 0, "medium": 1, "high": 2}, return_dtype=pl.Int8)
    return (
        anomalies.group_by(*_KEYS, "alert_id")
        .agg(
            pl.col("date").min().alias("start_date"),
            pl.col("date").max().alias("end_date"),
            pl.col("date").n_unique().alias("days"),
            pl.col("metric").unique().sort().str.join(",").alias("metrics"),
            pl.col("severity").sort_by(rank).last().alias("severity"),
            pl.col("score").abs().max().alias("max_abs_score"),
        )
        .sort(*_KEYS, "start_date")
    )


def _dense_days(daily: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in (*_KEYS, "date", *_INPUT) if c not in daily.columns]
    if missing:
        raise ValueError(f"campaign daily frame is missing column(s) {missing}; it has {daily.columns}")
    frame = daily.select(
        *[pl.col(k).cast(pl.String) for k in _KEYS],
        pl.col("date").cast(pl.Date),
        *[pl.col(c).cast(pl.Float64).fill_null(0.0) for c in _INPUT],
    )
    bad = frame.filter(pl.any_horizontal(pl.col(*_KEYS, "date").is_null()))
    if bad.height:
        raise ValueError(
            f"campaign daily frame has {bad.height} row(s) with a null key or date, e.g. {bad.row(0)}"
        )
    dupes = frame.filter(pl.struct(*_KEYS, "date").is_duplicated())
    if dupes.height:
        raise ValueError(
            "campaign daily frame must have one row per (tenant_id, platform, campaign_id, date); "
            f"{dupes.height} rows are duplicated, e.g. {dupes.select(*_KEYS, 'date').row(0)}"
        )
    negative = frame.filter(pl.any_horizontal(pl.col(*_INPUT) < 0))
    if negative.height:
        raise ValueError(
            f"campaign daily frame has {negative.height} row(s) with negative metrics, e.g. {negative.row(0)}"
        )
    if frame.height == 0:
        return frame
    spans = frame.group_by(_KEYS).agg(
        pl.date_ranges(pl.col("date").min(), pl.col("date").max(), interval="1d").first().alias("date")
    )
    return (
        spans.explode("date")
        .join(frame, on=[*_KEYS, "date"], how="left")
        .with_columns(pl.col(*_INPUT).fill_null(0.0))
        .sort(*_KEYS, "date")
    )


def _with_budgets(dense: pl.DataFrame, budgets: pl.DataFrame | None) -> pl.DataFrame:
    """``dense`` with ``budget``: the campaign's planned daily budget, carried forward from the last
    row on or before each day (a daily table and a change log both work); null where unknown."""
    if budgets is None:
        return dense.with_columns(pl.lit(None, pl.Float64).alias("budget"))
    missing = [c for c in (*_KEYS, "date", "daily_budget") if c not in budgets.columns]
    if missing:
        raise ValueError(f"budgets frame is missing column(s) {missing}; it has {budgets.columns}")
    b = budgets.select(
        *[pl.col(k).cast(pl.String) for k in _KEYS],
        pl.col("date").cast(pl.Date),
        pl.col("daily_budget").cast(pl.Float64).alias("budget"),
    )
    bad = b.filter(pl.col("budget").is_not_null() & (pl.col("budget") < 0))
    if bad.height:
        raise ValueError(f"budgets frame has {bad.height} negative daily_budget row(s), e.g. {bad.row(0)}")
    b = b.filter(pl.col("budget") > 0).unique([*_KEYS, "date"], keep="last")
    return (
        dense.join(b, on=[*_KEYS, "date"], how="full", coalesce=True)
        .sort(*_KEYS, "date")
        .with_columns(pl.col("budget").forward_fill().over(_KEYS))
        .join(dense.select(*_KEYS, "date"), on=[*_KEYS, "date"], how="semi")
        .sort(*_KEYS, "date")
    )


def _base(series: str) -> str:
    """The metric a scored series measures (``spend_paced`` is spend on the budget basis)."""
    return "spend" if series == _PACED else series


def _offset(series: str) -> pl.Expr:
    """What a series is measured against on its scoring scale: log(budget + 1) for paced spend (null
    on days without a budget), else nothing."""
    if series == _PACED:
        return (pl.col("budget") + 1.0).log()
    return pl.lit(0.0)


def _transform(metric: str, value: pl.Expr) -> pl.Expr:
    """The scale a metric is scored on: Anscombe's root for conversion counts (Poisson noise has unit
    spread there), the log for spend and the ratios (multiplicative changes, symmetric up and down)."""
    if metric == "conversions":
        return 2.0 * (value.clip(lower_bound=0.0) + 0.375).sqrt()
    if metric == "spend":
        return (value + 1.0).log()  # + 1 currency unit: a day without delivery stays finite
    return value.clip(lower_bound=1e-9).log()


def _inverse(metric: str, scaled: pl.Expr) -> pl.Expr:
    if metric == "conversions":
        return ((scaled / 2.0) ** 2 - 0.375).clip(lower_bound=0.0)
    if metric == "spend":
        return scaled.exp() - 1.0
    return scaled.exp()


def _score(part: pl.DataFrame, metric: str, settings: AnomalySettings) -> pl.DataFrame:
    # sampling noise of one day on the scoring scale, at the baseline's volume
    noise = {
        "spend": pl.lit(0.0),
        "conversions": pl.lit(1.0),
        "ctr": 1.0 / pl.col("base_clicks").clip(lower_bound=1.0).sqrt(),
        "cpa": 1.0 / pl.col("base_conversions").clip(lower_bound=1.0).sqrt(),
        "roas": 1.0 / pl.col("base_conversions").clip(lower_bound=1.0).sqrt(),
    }[metric]
    # the relative floor on the scoring scale: log(1 + r), or r * sqrt(x) / 2 on the root scale
    rel = (
        settings.rel_floor * pl.col("centre") / 4.0
        if metric == "conversions"
        else pl.lit(float(np.log1p(settings.rel_floor)))
    )
    spread = pl.max_horizontal(_MAD_TO_SD * pl.col("mad"), rel, noise, pl.lit(1e-12))
    volume_ok = pl.col("base_spend") >= settings.min_spend
    if metric == "ctr":
        volume_ok &= (pl.col("base_impressions") >= settings.min_impressions) & (
            pl.col("base_clicks") >= settings.min_clicks
        )
    if metric in ("conversions", "cpa", "roas"):
        volume_ok &= pl.col("base_conversions") >= settings.min_conversions
    eligible = (
        volume_ok
        & (pl.col("n_refs") >= settings.min_weeks)
        & pl.col("value").is_not_null()
        & pl.col("centre").is_not_null()
    )
    return (
        part.with_columns(
            spread.alias("spread"), _inverse(metric, pl.col("centre") + pl.col("offset")).alias("expected")
        )
        .with_columns(
            pl.when(eligible.fill_null(False))
            .then((pl.col("scaled") - pl.col("centre")) / pl.col("spread"))
            .alias("daily_score"),
            eligible.fill_null(False).alias("eligible"),
        )
        .with_columns(_run_score(settings).alias("score"))
        .select(*_KEYS, "metric", "date", "value", "expected", "spread", "score", "daily_score", "eligible")
        .filter(pl.col("expected").is_not_null())
    )


def _run_score(settings: AnomalySettings) -> pl.Expr:
    """The day's score, or a stronger run score: Stouffer's ``sum z / sqrt(w)`` over the last
    ``w = 2..run_days`` eligible days, used when the day itself leans the same way (``|z| >=
    threshold / 2``). A sustained drop of a low-volume metric (a conversion-tracking outage on a
    campaign with a handful of conversions a day) is then found on its second or third day."""
    z = pl.col("daily_score")
    best = z
    for w in range(2, settings.run_days + 1):
        run = z.rolling_sum(w, min_samples=w).over(_KEYS) / float(np.sqrt(w))
        leans = (z.abs() >= settings.threshold / 2.0) & (z.sign() == run.sign())
        best = pl.when(leans & (run.abs() > best.abs())).then(run).otherwise(best)
    return best
