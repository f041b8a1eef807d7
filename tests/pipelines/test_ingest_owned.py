"""Owned-media ingest through Dagster on the tiny world: idempotent merges, faults survived."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

TABLES = ("mailchimp_email_reports", "social_posts", "social_mentions", "social_influencers")
LOAD_COLUMNS = {"_loaded_at", "_run_id"}  # change with every run by design


def _ingest(settings) -> None:
    from pipelines.assets.ingest_owned import build_owned_ingest_assets
    from pipelines.resources import resources_from_settings

    result = dg.materialize(
        build_owned_ingest_assets(),
        resources=resources_from_settings(settings),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for name in [*(f"raw.{t}" for t in TABLES), "ops.quarantine"]:
            frame = con.sql(f"select * from {name}").pl()
            frame = frame.drop([c for c in frame.columns if c in LOAD_COLUMNS])
            out[name] = frame.sort(frame.columns, nulls_last=True)
    return out


def test_materializing_twice_leaves_the_owned_tables_identical(tmp_path, tiny_world_root) -> None:
    settings = tiny_settings(fresh_home(tmp_path, tiny_world_root))
    _ingest(settings)  # first run: everything
    first = _tables(settings.warehouse)
    for table in TABLES:
        assert first[f"raw.{table}"].height > 0, table
    assert first["ops.quarantine"].height == 0
    _ingest(settings)  # second run: incremental windows, merged on id
    second = _tables(settings.warehouse)
    for name, frame in first.items():
        assert second[name].equals(frame), name
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        dupes = con.sql(
            "select count(*) - count(distinct (tenant_id, campaign_id)) from raw.mailchimp_email_reports"
        ).fetchall()[0][0]
        cursors = dict(con.sql("select source, count(*) from ops.cursors group by 1").fetchall())
    assert dupes == 0
    assert cursors == {"mailchimp_email_reports": 2, "social_posts": 2, "social_mentions": 2}


def test_injected_faults_load_the_same_tables(tmp_path, tiny_world_root) -> None:
    clean = tiny_settings(fresh_home(tmp_path / "clean", tiny_world_root))
    faulty = tiny_settings(fresh_home(tmp_path / "faulty", tiny_world_root), MOS_FAULT_RATE="0.2")
    _ingest(clean)
    _ingest(faulty)
    want, got = _tables(clean.warehouse), _tables(faulty.warehouse)
    for name, frame in want.items():
        assert got[name].equals(frame), name
