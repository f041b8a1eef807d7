"""The lift-test importer: good read-outs load, every bad one is named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import FileImportError
from connectors.imports import import_lift_test_file, import_lift_test_files

HEADER = "test_id,channel,method,kpi,start_date,end_date,incremental,standard_error\n"


def _drop(tmp_path: Path, body: str, name: str = "2026-03-14.csv") -> Path:
    path = tmp_path / "lift_tests" / "northwind" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body)
    return path


def test_good_rows_load_and_bad_rows_are_named(tmp_path: Path) -> None:
    path = _drop(
        tmp_path,
        "LT-1,Meta,geo,revenue,2026-02-01,2026-02-28,1500.5,150\n"  # line 2: good (channel lower-cased)
        "LT-1,meta,geo,conversions,2026-02-01,2026-02-28,15.2,1.5\n"  # line 3: good
        "LT-2,tiktok,geo,revenue,2026-02-20,2026-02-10,100,10\n"  # line 4: ends before it starts
        "LT-3,tiktok,geo,sessions,2026-02-01,2026-02-14,100,10\n"  # line 5: unknown KPI
        "LT-4,tiktok,geo,revenue,2026-02-01,2026-02-14,lots,10\n"  # line 6: not a number
        "LT-5,tiktok,geo,revenue,2026-03-01,2026-03-20,100,10\n"  # line 7: after the drop day
        "LT-6,tiktok,geo,revenue,2026-02-01,2026-02-14,100,0\n"  # line 8: no stated error
        "LT-1,meta,geo,revenue,2026-02-01,2026-02-28,1600,150\n"  # line 9: duplicate (test, kpi)
        "LT-7,,geo,revenue,2026-02-01,2026-02-14,100,10\n",  # line 10: no channel
    )
    result = import_lift_test_file(path, tenant_id="northwind")

    assert result.rows.select("test_id", "channel", "kpi").rows() == [
        ("LT-1", "meta", "revenue"),
        ("LT-1", "meta", "conversions"),
    ]
    assert result.rows["tenant_id"].unique().to_list() == ["northwind"]
    rejected = {row["_line"]: row for row in result.quarantine.iter_rows(named=True)}
    assert sorted(rejected) == [4, 5, 6, 7, 8, 9, 10]
    assert rejected[4]["field"] == "end_date" and "before start_date" in rejected[4]["reason"]
    assert rejected[5]["field"] == "kpi" and "revenue" in rejected[5]["reason"]
    assert rejected[6]["field"] == "incremental"
    assert "end_date" in rejected[7]["field"] and "after" in rejected[7]["reason"]
    assert rejected[8]["field"] == "standard_error"
    assert "duplicate" in rejected[9]["reason"]
    assert rejected[10]["field"] == "channel"
    assert all(m.startswith(str(path)) for m in result.messages())


def test_a_drop_without_a_required_column_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "2026-03-14.csv"
    path.write_text(
        "test_id,channel,kpi,start_date,end_date,incremental\nLT-1,meta,revenue,2026-02-01,2026-02-02,1\n"
    )
    with pytest.raises(FileImportError, match="standard_error"):
        import_lift_test_file(path, tenant_id="northwind")
    combined = import_lift_test_files([path, _drop(tmp_path, "")], tenant_id="northwind")
    assert len(combined.errors) == 1 and str(path) in str(combined.errors[0])
