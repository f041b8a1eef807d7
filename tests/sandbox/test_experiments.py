"""The sandbox's experimentation programme: a schedule an experimentation team would run, read-outs
that measure the world's true incremental KPI within their stated error, and vendor drops that the
lift-test importer reads back exactly; its own random stream leaves every other table untouched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from connectors.imports import import_lift_test_files
from connectors.sandbox import generator
from connectors.sandbox.experiments import (
    DURATIONS_DAYS,
    READOUT_DAYS,
    RELATIVE_SE,
    export_lift_tests,
    lift_tests_truth,
)
from connectors.sandbox.world import WORLD_TABLES


@pytest.fixture(scope="module")
def tests_(tiny_world) -> pl.DataFrame:
    return tiny_world.truth["lift_tests"]


def test_every_paid_channel_is_tested_in_non_overlapping_windows(tiny_world, tests_) -> None:
    channel = tiny_world.truth["channel_daily"]
    paid = channel.filter(pl.col("spend") > 0).select("tenant_id", "channel").unique()
    assert set(tests_.select("tenant_id", "channel").unique().iter_rows()) == set(paid.iter_rows())
    days = (tests_["end_date"] - tests_["start_date"]).dt.total_days() + 1
    assert set(days.to_list()) <= set(DURATIONS_DAYS)
    assert (tests_["readout_date"] == tests_["end_date"] + timedelta(days=READOUT_DAYS)).all()
    assert tests_["readout_date"].max() <= tiny_world.meta.end_date
    assert tests_["start_date"].min() >= tiny_world.meta.start_date
    revenue = tests_.filter(pl.col("kpi") == "revenue").sort("tenant_id", "channel", "start_date")
    for _, part in revenue.group_by("tenant_id", "channel"):
        starts, ends = part["start_date"].to_list(), part["end_date"].to_list()
        assert all(s > e for s, e in zip(starts[1:], ends[:-1], strict=False))


def test_read_outs_measure_the_true_incremental_within_the_stated_error(tiny_world, tests_) -> None:
    channel = tiny_world.truth["channel_daily"]
    for row in tests_.iter_rows(named=True):
        window = channel.filter(
            (pl.col("tenant_id") == row["tenant_id"])
            & (pl.col("channel") == row["channel"])
            & pl.col("date").is_between(row["start_date"], row["end_date"])
        )
        column = "incremental_revenue" if row["kpi"] == "revenue" else "incremental_conversions"
        assert row["true_incremental"] == pytest.approx(float(window[column].sum()), rel=1e-9)
        # stated to the cent (revenue) or to 0.001 (conversions)
        assert row["standard_error"] == pytest.approx(RELATIVE_SE * row["true_incremental"], abs=0.006)
        z = (row["incremental"] - row["true_incremental"]) / row["standard_error"]
        assert abs(z) < 4.5, row
    # Noise, not a copy of the truth.
    assert (tests_["incremental"] != tests_["true_incremental"].round(2)).mean() > 0.5


def test_deterministic_and_seeded(tiny_world, tests_) -> None:
    channel = tiny_world.truth["channel_daily"]
    again = lift_tests_truth(channel, tiny_world.meta.seed, tiny_world.meta.end_date)
    assert again.equals(tests_.select(again.columns))
    other = lift_tests_truth(channel, tiny_world.meta.seed + 1, tiny_world.meta.end_date)
    assert not other["incremental"].equals(again["incremental"])


def test_the_programme_changes_no_other_table(tiny_world, monkeypatch) -> None:
    monkeypatch.setattr(
        generator, "lift_tests_truth", lambda channel, seed, end: lift_tests_truth(channel, seed, end).head(0)
    )
    without = generator.generate_world("tiny", 7)
    for name in WORLD_TABLES:
        assert without.table(name).equals(tiny_world.table(name)), name
    for name, frame in tiny_world.truth.items():
        if name != "lift_tests":
            assert without.truth[name].equals(frame), name


def test_vendor_drops_import_back_exactly(tiny_world, tests_, tmp_path: Path) -> None:
    world = tiny_world
    paths = export_lift_tests(world, tmp_path, world.meta.start_date, world.meta.end_date)
    assert {p.name[:10] for p in paths} == {d.isoformat() for d in tests_["readout_date"].unique()}
    first_bytes = {p: p.read_bytes() for p in paths}
    export_lift_tests(world, tmp_path, world.meta.start_date, world.meta.end_date)
    assert {p: p.read_bytes() for p in paths} == first_bytes  # reproducible drops

    for tenant in sorted(tests_["tenant_id"].unique()):
        imported = import_lift_test_files([p for p in paths if p.parent.name == tenant], tenant_id=tenant)
        assert not imported.errors and imported.quarantine.height == 0, imported.messages()
        expected = tests_.filter(pl.col("tenant_id") == tenant).select(imported.rows.columns)
        assert imported.rows.sort("test_id", "kpi").equals(expected.sort("test_id", "kpi"))
