"""Incremental models (macros/run_window.sql) on the hand-written warehouse: a windowed run after
raw changes inside and outside the window gives the table a full refresh gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.dbt.test_dbt_project import build_raw_warehouse, invoke_dbt

MODEL = "int_touchpoints_channeled"
TABLE = f"intermediate.{MODEL}"
WINDOW = {"mos_window_start": "2026-03-02", "mos_window_end": "2026-03-04"}
_META = "now()::timestamp, 'r2', '2026-03-03', 'touchpoints'"


def _rows(path: Path) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        frame = con.sql(f"select * from {TABLE}").pl()
    return frame.sort(frame.columns, nulls_last=True)


def _change_raw(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        # Inside the window: a new session and a re-tagged one (a restated file).
        con.execute(
            "insert into raw.touchpoints values ('northwind','t8','a8','2026-03-03 09:00:00','session',"
            f"'google','cpc','nw_search','/', {_META})"
        )
        con.execute("update raw.touchpoints set utm_medium = 'referral' where event_id = 't4'")
        # Outside it: an erasure removes a visitor's session from January.
        con.execute("delete from raw.touchpoints where event_id = 't6'")


def _ok(run) -> None:
    failed = {k: v for k, v in run.statuses().items() if v not in {"success", "pass"}}
    assert run.result.success and not failed, failed


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    workdir = tmp_path_factory.mktemp("incremental")
    base = workdir / "base.duckdb"
    build_raw_warehouse(base)
    _ok(invoke_dbt(["build", "--select", f"+{MODEL}"], base, workdir))
    _change_raw(base)
    windowed, unbounded, full = (workdir / f"{n}.duckdb" for n in ("windowed", "unbounded", "full"))
    for copy in (windowed, unbounded, full):
        shutil.copy(base, copy)
    _ok(invoke_dbt(["build", "--select", MODEL, "--vars", json.dumps(WINDOW)], windowed, workdir))
    _ok(invoke_dbt(["build", "--select", MODEL], unbounded, workdir))
    _ok(invoke_dbt(["build", "--select", MODEL, "--full-refresh"], full, workdir))
    return windowed, unbounded, full


def test_a_windowed_run_equals_a_full_refresh(warehouses) -> None:
    windowed, _, full = warehouses
    rows = _rows(windowed)
    assert rows.equals(_rows(full))
    by_event = {r["event_id"]: r for r in rows.iter_rows(named=True) if r["tenant_id"] == "northwind"}
    assert by_event["t8"]["channel"] == "google_ads"  # new in the window
    assert by_event["t4"]["channel"] == "referral"  # re-tagged in the window (was email)
    assert "t6" not in by_event  # erased outside the window, deleted all the same


def test_a_run_without_a_window_rebuilds_the_whole_table(warehouses) -> None:
    _, unbounded, full = warehouses
    assert _rows(unbounded).equals(_rows(full))
