"""The whole pipeline on the tiny sandbox world, through Dagster, in-process."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _failures(result) -> str:
    return "\n".join(
        f"{e.step_key}: {e.event_specific_data.error.message}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    )


def test_every_asset_materializes(tiny_run) -> None:
    assert tiny_run.result.success, _failures(tiny_run.result)
    materialized = {tuple(e.asset_key.path) for e in tiny_run.result.get_asset_materialization_events()}
    for key in [
        ("raw", "meta_ads_insights"),
        ("raw", "google_ads_ad_stats"),
        ("raw", "touchpoints"),
        ("raw", "hubspot_contacts"),
        ("raw", "hubspot_deals"),
        ("marts", "fct_channel_daily"),
        ("marts", "fct_ad_performance_daily"),
        ("ml", "forecast_channel_daily"),
        ("activation", "decisions"),
        ("serving", "snapshot"),
    ]:
        assert key in materialized, f"{'.'.join(key)} was not materialized"


def test_marts_are_not_empty(tiny_run) -> None:
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        for table in (
            "marts.fct_ad_performance_daily",
            "marts.fct_channel_daily",
            "marts.dim_campaigns",
            "ml.forecast_channel_daily",
            "ml.forecast_backtest",
        ):
            assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        # Both tenants and all four paid platforms reach the channel mart.
        paid = con.execute(
            "select tenant_id, channel from marts.fct_channel_daily where spend > 0 group by all order by all"
        ).fetchall()
    assert paid == [
        (tenant, platform)
        for tenant in ("bellavista", "northwind")
        for platform in ("google_ads", "linkedin", "meta", "tiktok")
    ]


def test_channel_spend_equals_true_spend_to_the_cent(tiny_run) -> None:
    truth = pl.read_parquet(tiny_run.world_dir / "truth" / "channel_daily.parquet")
    # every paid platform (email and organic_social have no spend), loaded through its API exactly once
    paid = ["meta", "google_ads", "linkedin", "tiktok"]
    truth = truth.filter(pl.col("channel").is_in(paid)).select(
        "tenant_id", "date", "channel", (pl.col("spend") * 100).round(0).cast(pl.Int64).alias("cents")
    )
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        mart = con.sql(
            """select tenant_id, date, channel, (spend * 100)::bigint as cents
               from marts.fct_channel_daily where list_contains($paid, channel)""",
            params={"paid": paid},
        ).pl()
    joined = truth.join(mart, on=["tenant_id", "date", "channel"], how="full", coalesce=True)
    joined = joined.with_columns(pl.col("cents").fill_null(0), pl.col("cents_right").fill_null(0))
    mismatched = joined.filter(pl.col("cents") != pl.col("cents_right"))
    assert truth["cents"].sum() > 0
    assert mismatched.height == 0, f"{mismatched.height} channel-days differ, e.g. {mismatched.head(5)}"


def test_serving_snapshot_is_published(tiny_run) -> None:
    assert tiny_run.settings.serving.exists()
    with duckdb.connect(str(tiny_run.settings.serving), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        assert {
            "tenants",
            "channel_daily",
            "campaign_daily",
            "forecast_channel_daily",
            "decisions",
            "snapshot_info",
        } <= tables
        assert con.execute("select count(*) from channel_daily").fetchone()[0] > 0


def test_activation_run_is_audited_as_dry_run(tiny_run) -> None:
    with duckdb.connect(str(tiny_run.settings.warehouse), read_only=True) as con:
        runs = con.execute("select dry_run, n_evaluated, n_applied from activation.runs").fetchall()
        applied = con.execute(
            "select count(*) from activation.decisions where status = 'applied'"
        ).fetchone()[0]
    assert runs and all(dry for dry, _, _ in runs)
    assert runs[0][1] > 0, "the policy evaluated no ads"
    assert applied == 0, "a dry run applied a decision"
