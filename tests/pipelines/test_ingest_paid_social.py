"""LinkedIn and TikTok ingest through Dagster on the tiny world: idempotent slices, exact totals, faults."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl
import pytest

from connectors.sandbox.world import World, world_dir
from tests.pipelines.test_ingest_assets import WINDOW, _assert_same, _ingest, _tables
from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

PAID = ("linkedin_ads_creative_stats", "linkedin_ads_campaigns", "linkedin_ads_campaign_groups",
        "linkedin_ads_creatives", "tiktok_ads_ad_stats", "tiktok_ads_campaigns", "tiktok_ads_adgroups",
        "tiktok_ads_ads")  # fmt: skip


def _home(tmp_path, tiny_world_root, **env: str):
    home = fresh_home(tmp_path, tiny_world_root)
    world = World.load(world_dir(home / "sandbox", "tiny", 7))
    return tiny_settings(home, **env), world


def test_paid_social_ingest_is_idempotent_and_equals_the_world(tmp_path, tiny_world_root) -> None:
    settings, world = _home(tmp_path, tiny_world_root)
    _ingest(settings)
    first = _tables(settings.warehouse)
    for table in PAID:
        assert first[f"raw.{table}"].height > 0, table
    _ingest(settings)
    _assert_same(first, _tables(settings.warehouse))
    in_window = pl.col("date").is_between(*WINDOW)
    for platform, table, day, spend in (
        ("linkedin", "linkedin_ads_creative_stats", "date", "cost_in_local_currency"),
        ("tiktok", "tiktok_ads_ad_stats", "stat_time_day", "spend"),
    ):
        truth = world.delivery.filter((pl.col("platform") == platform) & in_window)
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            rows, total, clicks, days = con.execute(
                f"select count(*), sum({spend}), sum(clicks), count(distinct {day}) from raw.{table}"
            ).fetchone()
        assert rows == truth.height and clicks == truth["clicks"].sum()
        assert total == Decimal(int(truth["spend_micros"].sum())) / 1_000_000
        assert days == (WINDOW[1] - WINDOW[0]).days + 1


def test_paid_social_ingest_under_faults_loads_the_same_tables(tmp_path, tiny_world_root) -> None:
    clean, _ = _home(tmp_path / "clean", tiny_world_root)
    faulty, _ = _home(tmp_path / "faulty", tiny_world_root, MOS_FAULT_RATE="0.1")
    _ingest(clean)
    _ingest(faulty)
    a, b = _tables(clean.warehouse), _tables(faulty.warehouse)
    _assert_same({k: v for k, v in a.items() if "linkedin" in k or "tiktok" in k},
                 {k: v for k, v in b.items() if "linkedin" in k or "tiktok" in k})  # fmt: skip
