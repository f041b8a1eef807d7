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


SCALE_HEADER = HEADER.rstrip("\n") + ",treatment_spend_scale,control_spend_scale\n"


def test_a_holdout_file_without_the_scale_columns_gets_the_holdout_design(tmp_path: Path) -> None:
    path = _drop(tmp_path, "LT-1,meta,holdout,revenue,2026-02-01,2026-02-28,1500.5,150\n")
    result = import_lift_test_file(path, tenant_id="northwind")
    assert result.quarantine.height == 0
    assert result.rows.select("treatment_spend_scale", "control_spend_scale").rows() == [(1.0, 0.0)]


def test_scale_tests_load_and_bad_scales_are_named(tmp_path: Path) -> None:
    path = tmp_path / "lift_tests" / "northwind" / "2026-03-14.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        SCALE_HEADER + "ST-1,meta,scale,revenue,2026-02-01,2026-02-28,300,120,1.5,1.0\n"  # line 2: +50 %
        "ST-2,meta,Scale,revenue,2026-02-01,2026-02-21,250,120,1.0,0.5\n"  # line 3: -50 %
        "LT-1,meta,holdout,revenue,2026-01-01,2026-01-21,900,90,1,0\n"  # line 4: a holdout, stated
        "ST-3,meta,scale,revenue,2026-02-01,2026-02-21,250,120,-0.5,0.5\n"  # line 5: negative treatment
        "ST-4,meta,scale,revenue,2026-02-01,2026-02-21,250,120,1.0,1.0\n"  # line 6: changes nothing
        "ST-5,meta,scale,revenue,2026-02-01,2026-02-21,250,120,1.5,\n"  # line 7: empty control
        "ST-6,meta,scale,revenue,2026-02-01,2026-02-21,250,120,inf,1.0\n"  # line 8: not finite
        "ST-7,meta,scale,revenue,2026-02-01,2026-02-21,250,120,1.5,lots\n"  # line 9: not a number
        "ST-8,meta,ramp,revenue,2026-02-01,2026-02-21,250,120,1.5,1.0\n",  # line 10: unknown method
    )
    result = import_lift_test_file(path, tenant_id="northwind")
    assert result.rows.select("test_id", "method", "treatment_spend_scale", "control_spend_scale").rows() == [
        ("ST-1", "scale", 1.5, 1.0),
        ("ST-2", "scale", 1.0, 0.5),
        ("LT-1", "holdout", 1.0, 0.0),
    ]
    rejected = {row["_line"]: row for row in result.quarantine.iter_rows(named=True)}
    assert sorted(rejected) == [5, 6, 7, 8, 9, 10]
    assert rejected[5]["field"] == "treatment_spend_scale" and ">= 0" in rejected[5]["reason"]
    assert "control_spend_scale" in rejected[6]["field"] and "equals" in rejected[6]["reason"]
    assert rejected[7]["field"] == "control_spend_scale" and "empty" in rejected[7]["reason"]
    assert rejected[8]["field"] == "treatment_spend_scale" and "finite" in rejected[8]["reason"]
    assert rejected[9]["field"] == "control_spend_scale"
    assert rejected[10]["field"] == "method" and "scale" in rejected[10]["reason"]
    assert all(m.startswith(str(path)) for m in result.messages())
