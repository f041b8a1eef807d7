"""The signal assets (campaign forecasts, anomalies, fatigue, lead scores) run in the tiny pipeline
and reach the serving snapshot under their INTERFACES names and columns."""

from __future__ import annotations

import duckdb
import pytest

from models_ml.anomalies import ANOMALY_SCHEMA
from models_ml.fatigue import FATIGUE_SCHEMA
from models_ml.forecast import CAMPAIGN_BACKTEST_SCHEMA, CAMPAIGN_FORECAST_SCHEMA
from models_ml.lead_scoring import LEAD_MODEL_SCHEMA, LEAD_SCORE_SCHEMA

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TABLES = {
    "forecast_campaign_daily": CAMPAIGN_FORECAST_SCHEMA,
    "forecast_campaign_backtest": CAMPAIGN_BACKTEST_SCHEMA,
    "anomalies": ANOMALY_SCHEMA,
    "creative_fatigue": FATIGUE_SCHEMA,
    "lead_scores": LEAD_SCORE_SCHEMA,
    "lead_model": LEAD_MODEL_SCHEMA,
}


def test_signal_tables_are_materialized_and_published(tiny_run) -> None:
    materialized = {tuple(e.asset_key.path) for e in tiny_run.result.get_asset_materialization_events()}
    for table in TABLES:
        assert ("ml", table) in materialized, table
    with (
        duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as warehouse,
        duckdb.connect(str(tiny_run.settings.serving), read_only=True) as snapshot,
    ):
        for table, schema in TABLES.items():
            columns = [r[0] for r in snapshot.execute(f"describe {table}").fetchall()]
            assert columns == list(schema), table
            n_warehouse = warehouse.execute(f"select count(*) from ml.{table}").fetchall()[0][0]
            n_snapshot = snapshot.execute(f"select count(*) from {table}").fetchall()[0][0]
            assert n_snapshot == n_warehouse, table
        # tiny has enough for campaign forecasts, fatigue verdicts and a lead model per tenant
        assert snapshot.execute("select count(*) from forecast_campaign_daily").fetchall()[0][0] > 0
        assert snapshot.execute("select count(*) from creative_fatigue").fetchall()[0][0] > 0
        statuses = snapshot.execute("select distinct status from lead_model").fetchall()
        assert statuses == [("ok",)], statuses
        scores = snapshot.execute(
            "select min(score), max(score), count(distinct decile) from lead_scores"
        ).fetchall()
        assert 0.0 <= scores[0][0] <= scores[0][1] <= 1.0 and scores[0][2] == 10
