"""The MMM asset's lift-test input: the spend scales reach `run_mmm` (defaults for a file of holdouts),
bad scales are refused by file, row and column, and a scale test is never handed to a model that would
read it as a holdout."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.assets import ml_mmm

CHANNEL_DAILY = pl.DataFrame(
    {
        "tenant_id": ["northwind"] * 2,
        "date": [date(2026, 1, 1), date(2026, 3, 31)],
        "channel": ["meta"] * 2,
        "spend": [100.0, 100.0],
        "volume": [0.0, 0.0],
    }
)


def _tests(**scales: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "tenant_id": ["northwind", "northwind"],
            "kpi": ["revenue", "revenue"],
            "channel": ["meta", "meta"],
            "start": [date(2026, 1, 10), date(2026, 2, 10)],
            "end": [date(2026, 1, 30), date(2026, 3, 2)],
            "incremental": [900.0, 120.0],
            "standard_error": [90.0, 90.0],
            **scales,
        }
    )


def test_a_holdout_file_gets_the_holdout_scales(tmp_path: Path) -> None:
    path = tmp_path / "tests.csv"
    _tests().write_csv(path)
    frame = ml_mmm._read_lift_tests(str(path))
    assert frame.select("treatment_spend_scale", "control_spend_scale").rows() == [(1.0, 0.0), (1.0, 0.0)]


def test_a_file_with_scales_passes_them_through(tmp_path: Path) -> None:
    path = tmp_path / "tests.parquet"
    _tests(treatment_spend_scale=[1.0, 1.5], control_spend_scale=[0.0, 1.0]).write_parquet(path)
    frame = ml_mmm._read_lift_tests(str(path))
    assert frame.select("treatment_spend_scale", "control_spend_scale").rows() == [(1.0, 0.0), (1.5, 1.0)]


@pytest.mark.parametrize(
    ("treatment", "control", "message"),
    [
        ([1.0, -0.5], [0.0, 0.5], r"row 2: treatment_spend_scale must be a finite number >= 0"),
        ([1.0, 1.0], [0.0, None], r"row 2: control_spend_scale must be a finite number >= 0"),
        ([1.0, float("nan")], [0.0, 1.0], r"row 2: treatment_spend_scale must be a finite"),
        ([1.0, 0.5], [0.0, 0.5], r"row 2: treatment_spend_scale equals control_spend_scale"),
    ],
)
def test_bad_scales_in_a_file_are_named(tmp_path: Path, treatment, control, message: str) -> None:
    path = tmp_path / "tests.parquet"
    _tests(treatment_spend_scale=treatment, control_spend_scale=control).write_parquet(path)
    with pytest.raises(ValueError, match=message) as caught:
        ml_mmm._read_lift_tests(str(path))
    assert str(path) in str(caught.value)


def test_scale_tests_reach_the_model() -> None:
    tests = _tests(treatment_spend_scale=[1.0, 1.0], control_spend_scale=[0.0, 0.5])
    kept, dropped = ml_mmm.usable_lift_tests(tests, CHANNEL_DAILY)
    assert kept.equals(tests) and dropped == []
