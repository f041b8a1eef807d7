"""The ML cadence of the daily run (issue 3): training and model selection weekly, scoring and
forecasting daily. The daily job scores leads with the stored lead model exactly as that model does
directly, forecasts with the stored choice of model, and the weekly refit refreshes both."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from models_ml.forecast import chosen_models
from models_ml.lead_scoring import score_with_models
from pipelines.assets.ml_signals import _has_column, lead_features_sql, load_lead_models
from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

FIRST = date(2026, 7, 4)  # the tiny world's first day (120 days to 2026-10-31)
TODAY = date(2026, 10, 31)
# op names of the ML assets (asset key joined by "__")
DAILY_STEPS = {"ml__lead_scores", "ml__forecast_campaign_daily", "ml__forecast_channel_daily"}
WEEKLY_STEPS = {"ml__lead_model", "ml__forecast_campaign_backtest", "ml__forecast_backtest"}


def _run(settings, start, end, job: str):
    from pipelines.demo import materialize_range

    result = materialize_range(settings, start, end, selection=job)
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    assert result.success, "\n".join(failures)
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}


def _state(path) -> dict:
    """The stored models, the features of every lead and the data's end, and the ML tables."""
    with duckdb.connect(str(path), read_only=True) as con:
        models, why = load_lead_models(con)
        leads = con.sql(
            lead_features_sql(
                "staging.stg_hubspot__contacts",
                "intermediate.int_touchpoints_channeled",
                has_opt_in=_has_column(con, "staging", "stg_hubspot__contacts", "marketing_opt_in"),
            )
        ).pl()
        as_of = con.execute("select max(event_ts) from intermediate.int_touchpoints_channeled").fetchall()[0][
            0
        ]
        tables = {
            name: con.sql(f"select * from ml.{name}").pl()
            for name in (
                "lead_scores",
                "lead_model",
                "lead_model_store",
                "forecast_backtest",
                "forecast_channel_daily",
                "forecast_campaign_backtest",
                "forecast_campaign_daily",
            )
        }
    assert why == "stored", why
    return {"models": models, "leads": leads, "as_of": as_of, **tables}


def _chosen_in(forecasts: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (
        forecasts.select(*keys, "metric", pl.col("model").str.replace("_numpy_fallback$", ""))
        .unique()
        .sort(*keys, "metric")
    )


def test_daily_scores_with_the_stored_models_and_the_weekly_refit_refreshes_them(
    tmp_path, tiny_world_root
) -> None:
    from connectors.sandbox.state import SandboxState
    from connectors.sandbox.world import world_dir

    home = fresh_home(tmp_path, tiny_world_root)
    settings = tiny_settings(home)
    _run(settings, FIRST, TODAY, "materialize_all")
    backfill = _state(settings.warehouse)
    assert backfill["models"], "tiny should fit a lead model for at least one tenant"
    assert (backfill["lead_model"]["status"] == "ok").sum() == len(backfill["models"])

    # two days later, the daily job: no fit, no backtest
    SandboxState(world_dir(settings.sandbox_dir, "tiny", 7)).advance(2)
    steps = _run(tiny_settings(home), TODAY + timedelta(days=2), TODAY + timedelta(days=2), "daily")
    assert steps >= DAILY_STEPS
    assert not WEEKLY_STEPS & steps
    daily = _state(settings.warehouse)
    assert daily["as_of"] > backfill["as_of"]
    assert daily["leads"].height > backfill["leads"].height, "the new days brought no new leads"

    # the stored model is untouched, and it scored every lead, the new ones included
    assert daily["lead_model_store"].equals(backfill["lead_model_store"])
    assert daily["lead_model"].equals(backfill["lead_model"])
    direct = score_with_models(daily["leads"], backfill["models"], daily["as_of"])
    assert_frame_equal(daily["lead_scores"], direct)
    new = daily["leads"].join(backfill["leads"], on=["tenant_id", "contact_id"], how="anti")
    scored_new = daily["lead_scores"].join(new, on=["tenant_id", "contact_id"], how="semi")
    assert scored_new.height == new.filter(pl.col("tenant_id").is_in(list(backfill["models"]))).height > 0
    assert set(daily["lead_scores"]["model_version"]) == {
        m.model_version for m in backfill["models"].values()
    }

    # forecasts: refitted through the new day with the model the stored backtest chose
    for fc_table, bt_table, keys in (
        ("forecast_channel_daily", "forecast_backtest", ["tenant_id", "channel"]),
        ("forecast_campaign_daily", "forecast_campaign_backtest", ["tenant_id", "channel", "campaign_id"]),
    ):
        forecasts, backtest = daily[fc_table], daily[bt_table]
        assert forecasts["trained_through"].max() > backfill[fc_table]["trained_through"].max()
        stored = chosen_models(backfill[bt_table]).sort(*keys, "metric")
        used = _chosen_in(forecasts, keys)
        kept = used.join(stored, on=[*keys, "metric"])
        assert kept.height > 0 and (kept["model"] == kept["model_right"]).all(), fc_table
        # series the stored selection knew keep their backtest rows as they were
        known = kept.select(*keys, "metric")
        order = [*keys, "metric", "model"]
        assert_frame_equal(
            backtest.join(known, on=[*keys, "metric"], how="semi").sort(order),
            backfill[bt_table].join(known, on=[*keys, "metric"], how="semi").sort(order),
        )
        # every forecast series has its backtest record (new ones were selected afresh)
        assert used.join(backtest, on=[*keys, "metric"], how="anti").height == 0, fc_table

    # the weekly refit: a new fit on the new data, and a new selection
    steps = _run(tiny_settings(home), None, None, "weekly_refit")
    assert steps >= WEEKLY_STEPS
    assert not DAILY_STEPS & steps
    weekly = _state(settings.warehouse)
    store = weekly["lead_model_store"]
    assert (store["trained_at"] == daily["as_of"]).all() and store.height == len(weekly["models"])
    assert (weekly["lead_model"]["trained_at"] == daily["as_of"]).all()
    assert not store["artifact"].equals(backfill["lead_model_store"]["artifact"])
    refreshed = chosen_models(weekly["forecast_backtest"])
    from models_ml.forecast import forecast_channel_metrics

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        channel_daily = con.sql(
            "select tenant_id, channel, date, spend::double as spend, attributed_conversions::double "
            "as conversions, attributed_revenue::double as revenue from marts.fct_channel_daily"
        ).pl()
    assert_frame_equal(
        weekly["forecast_backtest"].sort("tenant_id", "channel", "metric", "model"),
        forecast_channel_metrics(channel_daily, backtest_only=True).backtest.sort(
            "tenant_id", "channel", "metric", "model"
        ),
    )
    assert refreshed.height == chosen_models(daily["forecast_backtest"]).height
