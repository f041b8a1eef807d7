"""Publish the serving snapshot: a separate DuckDB file the dashboards open read-only.

It is built beside the target and swapped in with an atomic rename, so a dashboard reading the old
snapshot keeps working while the pipeline runs, and never sees a half-written one (DESIGN.md §3).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

# Snapshot table -> the select that fills it (from the warehouse, attached as the default catalog).
SNAPSHOT_QUERIES: dict[str, str] = {
    "tenants": "select tenant_id, name, currency, timezone from marts.dim_tenants",
    "channel_daily": """
        select tenant_id, date, channel, currency, spend, spend_usd, impressions, clicks,
               platform_conversions, platform_conversion_value, attributed_conversions,
               attributed_revenue, roas, platform_roas
        from marts.fct_channel_daily""",
    "campaign_daily": """
        select tenant_id, date, platform, campaign_id, any_value(campaign_name) as campaign_name,
               any_value(currency) as currency, sum(spend) as spend, sum(impressions) as impressions,
               sum(clicks) as clicks, sum(platform_conversions) as platform_conversions,
               sum(platform_conversion_value) as platform_conversion_value
        from marts.fct_ad_performance_daily
        group by tenant_id, date, platform, campaign_id""",
    "forecast_channel_daily": "select * from ml.forecast_channel_daily",
    "forecast_backtest": "select * from ml.forecast_backtest",
    "attribution_channel": "select * from ml.attribution_channel",
    "forecast_campaign_daily": "select * from ml.forecast_campaign_daily",
    "forecast_campaign_backtest": "select * from ml.forecast_campaign_backtest",
    "anomalies": "select * from ml.anomalies",
    "creative_fatigue": "select * from ml.creative_fatigue",
    "lead_scores": "select * from ml.lead_scores",
    "lead_model": "select * from ml.lead_model",
    "decisions": "select * from activation.decisions",
    # -- marketing science (issue 4, INTERFACES.md §7.4) --
    "mmm_channel": "select * from ml.mmm_channel",
    "mmm_fit": "select * from ml.mmm_fit",
    "mmm_decomposition": "select * from ml.mmm_decomposition",
    "response_curves": "select * from ml.response_curves",
    "budget_plan": "select * from ml.budget_plan",
    "mmm_calibration": "select * from ml.mmm_calibration",
    # -- end marketing science --
}
# Published when the warehouse has them, skipped otherwise: tables added after deployments exist whose
# producing asset runs less often than the daily publish (the MMM refits weekly), so the daily run
# does not fail until then. The dashboards treat an absent one as "not published yet".
OPTIONAL_SNAPSHOT_TABLES = frozenset({"mmm_calibration"})


def publish_snapshot(warehouse: Path, destination: Path, *, run_id: str) -> dict[str, int]:
    """Copy the serving tables into a new file and atomically replace `destination` with it."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        con.execute(f"attach '{_quote(warehouse)}' as wh (read_only)")
        con.execute(f"attach '{_quote(tmp)}' as snap")
        con.execute("use wh")
        existing = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
        }
        for table, query in SNAPSHOT_QUERIES.items():
            source = next(
                tok
                for tok in query.split()
                if "." in tok and tok.split(".")[0] in {"marts", "ml", "activation"}
            )
            if source not in existing:
                if table in OPTIONAL_SNAPSHOT_TABLES:
                    continue
                raise RuntimeError(f"cannot publish {table}: warehouse table {source} does not exist")
            con.execute(f"create table snap.main.{table} as {query}")
            counts[table] = con.execute(f"select count(*) from snap.main.{table}").fetchone()[0]
        con.execute(
            "create table snap.main.snapshot_info as select ?::timestamp as published_at, "
            "?::varchar as run_id, ?::varchar as warehouse_path",
            [datetime.now(UTC).replace(tzinfo=None), run_id, str(warehouse)],
        )
        con.execute("use memory")
        con.execute("detach snap")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, destination)
    return counts


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
