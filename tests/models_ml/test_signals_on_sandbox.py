"""The signal models against the sandbox's ground truth (demo world, generated once per session).

The tiny world (120 days, 4 injected anomalies, short-lived ads) carries too little signal for these
checks, so the demo world is generated in memory (nothing written). Floors are stated below with the
figures measured when they were set; ``bench/bench_signals.py`` prints the same figures.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from models_ml.anomalies import detect_anomalies
from models_ml.fatigue import detect_fatigue
from models_ml.forecast import forecast_campaign_metrics
from models_ml.lead_scoring import score_leads
from models_ml.signal_eval import fatigue_rates, match_anomaly_alerts, match_anomaly_truth

pytestmark = pytest.mark.xdist_group("sandbox_demo")

# Measured on demo seed 7 (defaults, with truth/campaign_budgets as the plan): anomalies row precision
# 1.00, incident recall 0.93 (14 of 15; the miss: a 5-day broken landing page on a campaign with ~2.8
# conversions a day, under the 3-a-day volume rule), alert precision 1.00 (14 alerts). With the
# budgets the pipeline really has (Meta's activity log; Google's change_event keeps 30 days, LinkedIn
# and TikTok have none), or none at all: row precision 0.94, alert precision 0.93, the same recall
# (before the history-basis rules for spend: 0.15 / 0.13). Fatigue false
# positives 0.6 %, detection 75 % of fatiguing ads whose true decay reached 30 % (90 % of those past
# 50 %), onset error median 6.5 days; lead AUC 0.008 / 0.012 below the true propensity's AUC (which
# includes the lead time); campaign forecast median backtest MASE < 0.8.
ANOMALY_INCIDENT_RECALL_FLOOR = 0.8
ANOMALY_PRECISION_FLOOR = 0.8
ANOMALY_ALERT_PRECISION_FLOOR = 0.8
FATIGUE_FALSE_POSITIVE_CEILING = 0.02  # measured 0.006 (3 of 485 stable ads)
FATIGUE_WORN_DETECTION_FLOOR = 0.7  # measured 0.75 of ads whose true decay reached 0.3
FATIGUE_STRONG_DETECTION_FLOOR = 0.85  # measured 0.90 of ads whose true decay reached 0.5
FATIGUE_ONSET_ERROR_CEILING_DAYS = 9  # measured median |estimated - true onset| 6.5 days
LEAD_AUC_FLOOR = 0.83  # measured 0.876 / 0.878 (demo seed 7)
LEAD_AUC_GAP_TO_CEILING = 0.03  # the true propensity's AUC on the same test leads: 0.884 / 0.890
LEAD_AUC_ABOVE_CEILING = 0.01  # a model cannot beat the Bayes ceiling beyond test-set noise


@pytest.fixture(scope="session")
def demo_world():
    from connectors.sandbox.generator import generate_world

    return generate_world("demo", 7)


def campaign_daily(world) -> pl.DataFrame:
    return world.delivery.group_by("tenant_id", "platform", "campaign_id", "date").agg(
        (pl.col("spend_micros").sum() / 1e6).alias("spend"),
        pl.col("impressions").sum().cast(pl.Float64),
        pl.col("clicks").sum().cast(pl.Float64),
        pl.col("platform_conversions").sum().alias("conversions"),
        pl.col("platform_conversion_value").sum().alias("revenue"),
    )


def test_anomalies_against_injected_truth(demo_world) -> None:
    daily = campaign_daily(demo_world)
    detected = detect_anomalies(daily, budgets=demo_world.truth["campaign_budgets"])
    truth = demo_world.truth["anomalies"]
    assert truth["anomaly_id"].n_unique() >= 10
    match = match_anomaly_truth(detected, truth)
    assert match.recall_incidents >= ANOMALY_INCIDENT_RECALL_FLOOR, match
    assert match.precision >= ANOMALY_PRECISION_FLOOR, match
    alerts = match_anomaly_alerts(detected, truth)
    assert alerts.precision >= ANOMALY_ALERT_PRECISION_FLOOR, alerts
    assert alerts.recall_by_kind["budget_runaway"] == 1.0, alerts  # spend x2.5-5 is never missed
    # The product path: planned budgets only where a platform keeps a change log (Meta), or none.
    # Budget steps on the rest must not read as incidents (spend within 0.4-2x of expected, or a
    # move that holds, is a budget change on the history basis).
    meta_budgets = demo_world.truth["campaign_budgets"].filter(pl.col("platform") == "meta")
    for budgets in (meta_budgets, None):
        product = detect_anomalies(daily, budgets=budgets)
        rows = match_anomaly_truth(product, truth)
        assert rows.precision >= ANOMALY_PRECISION_FLOOR, rows
        assert rows.recall_incidents >= ANOMALY_INCIDENT_RECALL_FLOOR, rows
        assert match_anomaly_alerts(product, truth).precision >= ANOMALY_ALERT_PRECISION_FLOOR


def test_fatigue_against_true_creative_curves(demo_world) -> None:
    ads = demo_world.delivery.with_columns(
        (pl.col("spend_micros") / 1e6).alias("spend"), pl.col("platform_conversions").alias("conversions")
    )
    rates = fatigue_rates(detect_fatigue(ads), demo_world.truth["ad_params"])
    assert rates["n_stable"] >= 100 and rates["n_worn"] >= 100, rates
    assert rates["false_positive_rate"] <= FATIGUE_FALSE_POSITIVE_CEILING, rates
    assert rates["detection_rate_worn"] >= FATIGUE_WORN_DETECTION_FLOOR, rates
    assert rates["detection_rate_band_0.5_1"] >= FATIGUE_STRONG_DETECTION_FLOOR, rates
    assert rates["onset_error_median_abs"] <= FATIGUE_ONSET_ERROR_CEILING_DAYS, rates
    assert abs(rates["onset_error_median"]) <= 3, rates  # not biased early or late


def test_lead_scoring_against_true_propensity(demo_world) -> None:
    from sklearn.metrics import roc_auc_score

    from pipelines.assets.ml_signals import lead_features_sql

    con = duckdb.connect()
    contacts = demo_world.contacts.rename(
        {"lead_date": "became_lead_at", "customer_date": "became_customer_at"}
    ).with_columns(pl.lit(False).alias("is_archived"))
    # the channel of a session: a coarse UTM mapping is enough here (dbt owns the real one)
    touchpoints = demo_world.touchpoints.with_columns(
        pl.coalesce(pl.col("utm_medium"), pl.lit("(none)")).alias("channel"),
        pl.col("event_ts").alias("event_ts_local"),
    )
    con.register("contacts", contacts)
    con.register("touchpoints", touchpoints)
    leads = con.sql(lead_features_sql("contacts", "touchpoints", has_opt_in=True)).pl()
    as_of = touchpoints["event_ts"].max()
    result = score_leads(leads, as_of)
    truth = demo_world.truth["lead_propensity"]
    for row in result.model.iter_rows(named=True):
        assert row["status"] == "ok", row
        window = pl.duration(days=row["label_window_days"])
        test = (
            leads.filter(
                (pl.col("tenant_id") == row["tenant_id"])
                & (pl.col("created_at") > row["cutoff"])
                & (pl.col("created_at") <= pl.lit(as_of) - window)
            )
            .join(truth, on=["tenant_id", "contact_id"])
            .with_columns(
                (
                    pl.col("converted_at").is_not_null()
                    & (pl.col("converted_at") - pl.col("created_at") <= window)
                ).alias("label")
            )
        )
        ceiling = roc_auc_score(test["label"].to_numpy(), test["propensity"].to_numpy())
        assert row["auc"] >= LEAD_AUC_FLOOR, row
        assert row["auc"] >= ceiling - LEAD_AUC_GAP_TO_CEILING, (row["auc"], ceiling)
        # the truth is complete: nothing the model sees ranks leads better than the true propensity
        assert row["auc"] <= ceiling + LEAD_AUC_ABOVE_CEILING, (row["auc"], ceiling)


def test_campaign_forecasts_beat_seasonal_naive(demo_world) -> None:
    result = forecast_campaign_metrics(campaign_daily(demo_world), top_n=3)
    chosen = result.forecasts.select("tenant_id", "channel", "campaign_id", "metric", "model").unique()
    assert chosen.height == 2 * 3 * 3
    backtest = result.backtest
    for model in ("ets_damped", "fourier_ar"):
        # every candidate on its own (no selection): pooled over series, better than seasonal naive
        rows = backtest.filter(pl.col("model") == model)
        assert rows["mase"].median() < 1.0, (model, rows["mase"].median())
    picked = backtest.join(chosen, on=["tenant_id", "channel", "campaign_id", "metric", "model"])
    assert picked["mase"].fill_null(1.0).median() <= 0.8
