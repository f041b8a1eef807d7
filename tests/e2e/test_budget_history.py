"""Budget history is a real source (issue 4): the pipeline builds each Meta campaign's planned daily
budget from the activity log, equal to the world's truth, and the anomaly asset scores against it."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import polars as pl
import pytest

from connectors.sandbox.world import World
from models_ml.anomalies import detect_anomalies, score_campaign_days
from models_ml.signal_eval import match_anomaly_truth

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _read(tiny_run, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        return con.sql(sql).pl()


def test_meta_budget_history_equals_truth(tiny_run) -> None:
    truth = World.load(tiny_run.world_dir).truth["campaign_budgets"].filter(pl.col("platform") == "meta")
    built = _read(
        tiny_run,
        "select tenant_id, platform, campaign_id, date, daily_budget "
        "from intermediate.int_campaign_budget_daily where platform = 'meta'",
    )
    joined = truth.join(
        built, on=["tenant_id", "platform", "campaign_id", "date"], how="left", suffix="_built"
    )
    assert joined.height == truth.height > 0
    missing = joined.filter(pl.col("daily_budget_built").is_null())
    assert missing.height == 0, missing.head()
    wrong = joined.filter((pl.col("daily_budget_built") - pl.col("daily_budget")).abs() > 0.005)
    assert wrong.height == 0, wrong.head()
    # every campaign with a budget history in the world has one in the warehouse, and nothing else
    assert set(built["campaign_id"]) == set(truth["campaign_id"])
    # raw events: one per change plus the creation budget
    changes = truth.sort("date").with_columns(prev=pl.col("daily_budget").shift(1).over("campaign_id"))
    n_events = changes.filter(pl.col("prev").is_null() | (pl.col("prev") != pl.col("daily_budget"))).height
    raw = _read(tiny_run, "select count(*) as n from raw.meta_ads_budget_changes")
    assert raw["n"][0] == n_events


def test_google_budget_history_equals_truth_within_30_days(tiny_run) -> None:
    """change_event keeps 30 days: inside the window ending on the last day every Google campaign-day
    has the planned budget; before it, only what a known change says."""
    truth = (
        World.load(tiny_run.world_dir).truth["campaign_budgets"].filter(pl.col("platform") == "google_ads")
    )
    built = _read(
        tiny_run,
        "select tenant_id, platform, campaign_id, date, daily_budget "
        "from intermediate.int_campaign_budget_daily where platform = 'google_ads'",
    )
    last = truth["date"].max()
    window = truth.filter(pl.col("date") > last - timedelta(days=30))  # type: ignore[operator]
    joined = window.join(
        built, on=["tenant_id", "platform", "campaign_id", "date"], how="left", suffix="_built"
    )
    assert joined.height == window.height > 0
    assert joined["daily_budget_built"].null_count() == 0
    assert (joined["daily_budget_built"] - joined["daily_budget"]).abs().max() < 0.005
    older = built.join(truth, on=["tenant_id", "platform", "campaign_id", "date"], suffix="_truth")
    assert older.height == built.height  # no row on a day the campaign did not run
    assert (older["daily_budget"] - older["daily_budget_truth"]).abs().max() < 0.005


def test_anomalies_use_the_budget_history(tiny_run) -> None:
    """ml.anomalies as the pipeline produced it: precision at least that of scoring the same
    campaign-days without budgets and above the floor, recall no worse, and Meta's spend scored as
    pacing against the budget log on the days it covers."""
    world = World.load(tiny_run.world_dir)
    truth = world.truth["anomalies"]
    produced = _read(tiny_run, "select * from ml.anomalies")
    daily = _read(
        tiny_run,
        "select tenant_id, platform, campaign_id, date, sum(spend)::double as spend, "
        "sum(impressions)::double as impressions, sum(clicks)::double as clicks, "
        "sum(platform_conversions)::double as conversions, sum(platform_conversion_value)::double as revenue "
        "from marts.fct_ad_performance_daily group by all order by all",
    )
    blind = detect_anomalies(daily)
    with_budgets = match_anomaly_truth(produced, truth)
    without = match_anomaly_truth(blind, truth)
    assert with_budgets.precision >= max(without.precision, 0.8), (with_budgets, without)
    assert with_budgets.recall_incidents >= without.recall_incidents
    budgets = _read(
        tiny_run,
        "select tenant_id, platform, campaign_id, date, daily_budget from intermediate.int_campaign_budget_daily",
    )
    spend = score_campaign_days(daily, budgets=budgets).filter(
        (pl.col("metric") == "spend") & pl.col("eligible")
    )
    paced = spend.group_by("platform").agg((pl.col("basis") == "budget").mean().alias("paced"))
    shares = dict(paced.iter_rows())
    assert shares["meta"] > 0.9, shares  # the full activity log: pacing on (nearly) every scored day
    assert shares.get("linkedin", 0.0) == 0.0 and shares.get("tiktok", 0.0) == 0.0  # no budget log
