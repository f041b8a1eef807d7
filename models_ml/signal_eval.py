"""Scoring the signal models against known truth (sandbox truth or synthetic injections).

Pure helpers shared by the tests and ``bench/bench_signals.py``: how a detection is matched to an
injected anomaly, how fatigue verdicts are compared with the true curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = [
    "DECAY_BANDS",
    "AlertMatch",
    "AnomalyMatch",
    "fatigue_rates",
    "match_anomaly_alerts",
    "match_anomaly_truth",
]

_KEYS = ["tenant_id", "platform", "campaign_id", "metric"]
DECAY_BANDS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.5), (0.5, 1.0))  # true decay at the last day


@dataclass(frozen=True)
class AnomalyMatch:
    """precision: share of detections that match a truth row; recall_rows: share of truth rows
    (anomaly x metric it moves) with a matching detection; recall_incidents: share of anomalies
    (``anomaly_id``) with at least one matching detection."""

    detections: int
    precision: float
    recall_rows: float
    recall_incidents: float


def match_anomaly_truth(detected: pl.DataFrame, truth: pl.DataFrame, slack_days: int = 1) -> AnomalyMatch:
    """The matching rule: a detection matches a truth row on the same tenant, platform, campaign and
    metric whose ``[start_date - slack_days, end_date + slack_days]`` contains the detection's date.

    ``truth``: the sandbox's ``truth/anomalies`` shape (anomaly_id, tenant_id, platform, campaign_id,
    metric, start_date, end_date, ...), one row per anomaly and metric it moves.
    """
    rows = truth.with_row_index("_row")
    hits = (
        detected.select(*_KEYS, "date")
        .with_row_index("_detection")
        .join(rows.select(*_KEYS, "_row", "anomaly_id", "start_date", "end_date"), on=_KEYS)
        .filter(
            (pl.col("date") >= pl.col("start_date") - pl.duration(days=slack_days))
            & (pl.col("date") <= pl.col("end_date") + pl.duration(days=slack_days))
        )
    )
    nan = float("nan")
    return AnomalyMatch(
        detections=detected.height,
        precision=hits["_detection"].n_unique() / detected.height if detected.height else nan,
        recall_rows=hits["_row"].n_unique() / truth.height if truth.height else nan,
        recall_incidents=(
            hits["anomaly_id"].n_unique() / truth["anomaly_id"].n_unique() if truth.height else nan
        ),
    )


@dataclass(frozen=True)
class AlertMatch:
    """Alert level (what an on-call person sees): precision: share of alerts (``alert_id``) that
    overlap an injected incident on the same campaign; recall: share of incidents (``anomaly_id``)
    with an overlapping alert."""

    alerts: int
    precision: float
    recall: float
    recall_by_kind: dict[str, float]


def match_anomaly_alerts(detected: pl.DataFrame, truth: pl.DataFrame, slack_days: int = 1) -> AlertMatch:
    """An alert (rows of ``detected`` sharing ``alert_id``, any metric) matches an incident on the
    same tenant, platform and campaign when one of its days lies in ``[start_date - slack_days,
    end_date + slack_days]``."""
    keys = _KEYS[:-1]
    incidents = truth.select(*keys, "anomaly_id", "kind", "start_date", "end_date").unique()
    hits = (
        detected.select(*keys, "alert_id", "date")
        .join(incidents, on=keys)
        .filter(
            (pl.col("date") >= pl.col("start_date") - pl.duration(days=slack_days))
            & (pl.col("date") <= pl.col("end_date") + pl.duration(days=slack_days))
        )
    )
    n_alerts = detected["alert_id"].n_unique() if detected.height else 0
    found = set(hits["anomaly_id"].to_list())
    by_kind = {
        kind: sum(a in found for a in rows["anomaly_id"]) / rows.height
        for (kind,), rows in incidents.group_by("kind")
    }
    nan = float("nan")
    return AlertMatch(
        alerts=n_alerts,
        precision=hits["alert_id"].n_unique() / n_alerts if n_alerts else nan,
        recall=len(found) / incidents.height if incidents.height else nan,
        recall_by_kind=dict(sorted(by_kind.items())),
    )


def fatigue_rates(
    fatigue: pl.DataFrame, ad_params: pl.DataFrame, min_true_decay: float = 0.3
) -> dict[str, float]:
    """Detection rates against the sandbox's true creative curves.

    ``ad_params``: tenant_id, platform, ad_id, fatigues, fatigue_onset_days, fatigue_halflife_days,
    fatigue_floor. The true decay at an ad's last day is ``(1 - floor) (1 - 0.5^(worn / halflife))``
    with ``worn`` the days past the onset. Returns: false_positive_rate (stable ads flagged),
    detection_rate (fatiguing ads flagged), detection_rate_worn (fatiguing ads whose true decay
    reached ``min_true_decay``: those the data can show), the counts, detection rates by true decay
    band (``detection_rate_band_<low>_<high>``, ``DECAY_BANDS``), and for the fatiguing ads detected
    the onset error in days (``onset_error_median``, signed: estimated - true;
    ``onset_error_median_abs``, ``onset_error_p90_abs``) and ``decay_error_median_abs``.
    """
    joined = fatigue.join(ad_params, on=["tenant_id", "platform", "ad_id"]).with_columns(
        ((pl.col("last_date") - pl.col("first_date")).dt.total_days() - pl.col("fatigue_onset_days"))
        .clip(lower_bound=0)
        .alias("_worn")
    )
    joined = joined.with_columns(
        ((1.0 - pl.col("fatigue_floor")) * (1.0 - 0.5 ** (pl.col("_worn") / pl.col("fatigue_halflife_days"))))
        .fill_null(0.0)
        .alias("true_decay")
    )
    stable = joined.filter(~pl.col("fatigues"))
    fatiguing = joined.filter(pl.col("fatigues"))
    worn = fatiguing.filter(pl.col("true_decay") >= min_true_decay)

    def rate(frame: pl.DataFrame) -> float:
        return float(frame["fatigued"].mean()) if frame.height else float("nan")  # type: ignore[arg-type]

    out = {
        "false_positive_rate": rate(stable),
        "detection_rate": rate(fatiguing),
        "detection_rate_worn": rate(worn),
        "n_stable": float(stable.height),
        "n_fatiguing": float(fatiguing.height),
        "n_worn": float(worn.height),
    }
    for low, high in DECAY_BANDS:
        band = fatiguing.filter((pl.col("true_decay") >= low) & (pl.col("true_decay") < high))
        out[f"detection_rate_band_{low:g}_{high:g}"] = rate(band)
        out[f"n_band_{low:g}_{high:g}"] = float(band.height)
    found = fatiguing.filter(pl.col("fatigued")).with_columns(
        ((pl.col("onset_date") - pl.col("first_date")).dt.total_days() - pl.col("fatigue_onset_days")).alias(
            "_onset_error"
        ),
        (pl.col("decay") - pl.col("true_decay")).abs().alias("_decay_error"),
    )
    nan = float("nan")
    errors = found["_onset_error"]
    out["onset_error_median"] = float(errors.median()) if found.height else nan  # type: ignore[arg-type]
    out["onset_error_median_abs"] = float(errors.abs().median()) if found.height else nan  # type: ignore[arg-type]
    out["onset_error_p90_abs"] = float(errors.abs().quantile(0.9)) if found.height else nan  # type: ignore[arg-type]
    out["decay_error_median_abs"] = float(found["_decay_error"].median()) if found.height else nan  # type: ignore[arg-type]
    return out
