"""Ingest through Dagster on the tiny world: idempotent slices, faults survived, bad files isolated."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

WINDOW = (date(2026, 10, 10), date(2026, 10, 20))
LOAD_COLUMNS = {"_loaded_at", "_run_id"}  # change with every run by design


def _ingest(settings, start: date = WINDOW[0], end: date = WINDOW[1]):
    from pipelines.demo import materialize_range

    result = materialize_range(settings, start, end, selection="ingest")
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    assert result.success, "\n".join(failures)
    return result


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    """Every raw table and the quarantine, without the per-run metadata, in a canonical order."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        names = [
            r[0]
            for r in con.sql(
                "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
            ).fetchall()
        ]
        for name in [*(f"raw.{n}" for n in names), "ops.quarantine"]:
            frame = con.sql(f"select * from {name}").pl()
            frame = frame.drop([c for c in frame.columns if c in LOAD_COLUMNS])
            out[name] = frame.sort(frame.columns, nulls_last=True)
    return out


def _assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equals(b[name]), f"{name} differs: {a[name].height} vs {b[name].height} rows"


def test_materializing_a_window_twice_leaves_every_table_identical(tmp_path, tiny_world_root) -> None:
    settings = tiny_settings(fresh_home(tmp_path, tiny_world_root))
    _ingest(settings)
    first = _tables(settings.warehouse)
    assert first["raw.meta_ads_insights"].height > 0 and first["raw.touchpoints"].height > 0
    _ingest(settings)
    _assert_same(first, _tables(settings.warehouse))
    # Re-materializing one day inside the window replaces that day only.
    _ingest(settings, WINDOW[0] + timedelta(days=3), WINDOW[0] + timedelta(days=3))
    _assert_same(first, _tables(settings.warehouse))


def test_ten_percent_injected_faults_load_the_same_totals(tmp_path, tiny_world_root) -> None:
    clean = tiny_settings(fresh_home(tmp_path / "clean", tiny_world_root))
    faulty = tiny_settings(fresh_home(tmp_path / "faulty", tiny_world_root), MOS_FAULT_RATE="0.1")
    _ingest(clean)
    _ingest(faulty)
    _assert_same(_tables(clean.warehouse), _tables(faulty.warehouse))
    with duckdb.connect(str(faulty.warehouse), read_only=True) as con:
        spend = con.execute("select sum(spend) from raw.meta_ads_insights").fetchone()[0]
    assert spend > 0


def test_a_malformed_touchpoint_file_is_rejected_and_the_others_load(tmp_path, tiny_world_root) -> None:
    settings = tiny_settings(fresh_home(tmp_path, tiny_world_root))
    bad_day = WINDOW[0] + timedelta(days=2)
    folder = settings.inbox / "touchpoints" / "northwind"
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / f"{bad_day.isoformat()}.late.ndjson"
    bad.write_text(
        '{"event_id": "e1", "anonymous_id": "a1", "event_ts": "not a time", "event_type": "session"}\n'
    )
    result = _ingest(settings)
    checks = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "files_readable" and e.asset_key.path == ["raw", "touchpoints"]
    ]
    assert checks and not checks[0].passed
    message = checks[0].metadata["errors"].value
    assert str(bad) in message and "event_ts" in message
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        per_day = dict(
            con.execute(
                "select _partition, count(*) from raw.touchpoints where tenant_id = 'northwind' group by 1"
            ).fetchall()
        )
    # Every day of the window loaded, the bad file's day included (its good file still loaded).
    days = {(WINDOW[0] + timedelta(days=i)).isoformat() for i in range((WINDOW[1] - WINDOW[0]).days + 1)}
    assert days <= set(per_day), sorted(days - set(per_day))
