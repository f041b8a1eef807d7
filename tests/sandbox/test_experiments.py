"""The sandbox's experimentation programme: a schedule an experimentation team would run, read-outs
that measure the world's true incremental KPI within their stated error, and vendor drops that the
lift-test importer reads back exactly; its own random stream leaves every other table untouched. Scale
tests (budget +/-50 %) sit beside the holdouts, measure the world's response curve, and leave every
holdout row bit-identical."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from connectors.imports import import_lift_test_files
from connectors.sandbox import experiments, generator
from connectors.sandbox.experiments import (
    DURATIONS_DAYS,
    READOUT_DAYS,
    RELATIVE_SE,
    SCALE_DESIGNS,
    SCALE_DURATIONS_DAYS,
    SCALE_GAP_DAYS,
    export_lift_tests,
    lift_tests_truth,
    scaled_incremental,
    slots,
)
from connectors.sandbox.response import hill
from connectors.sandbox.world import WORLD_TABLES

HOLDOUT = pl.col("method") != "scale"


@pytest.fixture(scope="module")
def all_tests(tiny_world) -> pl.DataFrame:
    return tiny_world.truth["lift_tests"]


@pytest.fixture(scope="module")
def tests_(all_tests) -> pl.DataFrame:
    """The holdout/geo tests."""
    return all_tests.filter(HOLDOUT)


@pytest.fixture(scope="module")
def scale_tests(all_tests) -> pl.DataFrame:
    return all_tests.filter(~HOLDOUT)


def _truth(world, seed=None, end=None) -> pl.DataFrame:
    return lift_tests_truth(
        world.truth["channel_daily"],
        world.truth["channel_params"],
        world.meta.seed if seed is None else seed,
        end or world.meta.end_date,
    )


def test_every_paid_channel_is_tested_in_non_overlapping_windows(tiny_world, tests_) -> None:
    channel = tiny_world.truth["channel_daily"]
    paid = channel.filter(pl.col("spend") > 0).select("tenant_id", "channel").unique()
    assert set(tests_.select("tenant_id", "channel").unique().iter_rows()) == set(paid.iter_rows())
    days = (tests_["end_date"] - tests_["start_date"]).dt.total_days() + 1
    assert set(days.to_list()) <= set(DURATIONS_DAYS)
    assert (tests_["readout_date"] == tests_["end_date"] + timedelta(days=READOUT_DAYS)).all()
    assert tests_["test_id"].str.starts_with("LT-").all() and set(tests_["method"]) <= {"geo", "holdout"}
    assert (tests_["treatment_spend_scale"] == 1.0).all() and (tests_["control_spend_scale"] == 0.0).all()
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


def test_deterministic_and_seeded(tiny_world, all_tests) -> None:
    again = _truth(tiny_world)
    assert again.equals(all_tests.select(again.columns))
    other = _truth(tiny_world, seed=tiny_world.meta.seed + 1)
    assert not other["incremental"].equals(again["incremental"])


def test_scale_tests_leave_the_holdout_rows_bit_identical(tiny_world, all_tests, monkeypatch) -> None:
    # The programme without scale tests (as it was before them) gives exactly the holdout rows.
    monkeypatch.setattr(experiments, "SCALE_DESIGNS", ())
    without = _truth(tiny_world)
    assert without["method"].is_in(["geo", "holdout"]).all()
    assert without.equals(all_tests.filter(HOLDOUT))


def test_every_paid_channel_gets_scale_tests_clear_of_its_holdouts(tiny_world, tests_, scale_tests) -> None:
    channel = tiny_world.truth["channel_daily"]
    paid = channel.filter(pl.col("spend") > 0).select("tenant_id", "channel").unique()
    assert set(scale_tests.select("tenant_id", "channel").unique().iter_rows()) == set(paid.iter_rows())
    assert scale_tests["test_id"].str.starts_with("ST-").all()
    days = (scale_tests["end_date"] - scale_tests["start_date"]).dt.total_days() + 1
    assert set(days.to_list()) <= set(SCALE_DURATIONS_DAYS)
    assert scale_tests["readout_date"].max() <= tiny_world.meta.end_date
    gap = timedelta(days=SCALE_GAP_DAYS)
    for row in scale_tests.filter(pl.col("kpi") == "revenue").iter_rows(named=True):
        holdouts = tests_.filter(
            (pl.col("tenant_id") == row["tenant_id"]) & (pl.col("channel") == row["channel"])
        )
        assert holdouts.height > 0
        for h in holdouts.iter_rows(named=True):
            clear = row["end_date"] + gap < h["start_date"] or row["start_date"] > h["end_date"] + gap
            assert clear, (row["test_id"], h["test_id"])
        # the design of its slot: "+50 %" on even slots, "-50 %" on odd ones
        series = channel.filter(
            (pl.col("tenant_id") == row["tenant_id"]) & (pl.col("channel") == row["channel"])
        )
        own = slots(series["date"].min(), series["date"].max())
        index = next(i for i, (a, b) in enumerate(own) if a <= row["start_date"] and row["end_date"] <= b)
        design = (row["treatment_spend_scale"], row["control_spend_scale"])
        assert design == SCALE_DESIGNS[index % 2]


def test_scale_designs_alternate_by_slot_over_two_years() -> None:
    # A synthetic two-year channel (constant spend): four slots, "+50 %" and "-50 %" in turn.
    days = pl.date_range(date(2024, 1, 1), date(2025, 12, 30), eager=True)
    params = {"hill_k": 150.0, "hill_alpha": 1.5, "beta": 4.0, "revenue_per_conversion": 80.0}
    adstock = np.full(days.len(), 200.0)
    conversions = params["beta"] * hill(adstock, params["hill_k"], params["hill_alpha"])
    channel_daily = pl.DataFrame(
        {
            "tenant_id": "northwind",
            "date": days,
            "channel": "meta",
            "spend": 100.0,
            "adstock": adstock,
            "incremental_conversions": conversions,
            "incremental_revenue": conversions * params["revenue_per_conversion"],
        }
    )
    channel_params = pl.DataFrame(
        {"tenant_id": ["northwind"], "channel": ["meta"], **{k: [v] for k, v in params.items()}}
    )
    table = lift_tests_truth(channel_daily, channel_params, seed=3).filter(pl.col("kpi") == "revenue")
    scale = table.filter(~HOLDOUT).sort("start_date")
    assert len(slots(days.min(), days.max())) == 4 and scale.height == 4
    assert scale.select("treatment_spend_scale", "control_spend_scale").rows() == [
        SCALE_DESIGNS[i % 2] for i in range(4)
    ]
    # Constant adstock: the top half of spend and the extra 50 % are two points of one Hill curve.
    k, alpha, beta = params["hill_k"], params["hill_alpha"], params["beta"] * params["revenue_per_conversion"]
    for row in scale.iter_rows(named=True):
        n = (row["end_date"] - row["start_date"]).days + 1
        s_t, s_c = row["treatment_spend_scale"], row["control_spend_scale"]
        expected = (
            n
            * beta
            * (float(hill(np.array(s_t * 200.0), k, alpha)) - float(hill(np.array(s_c * 200.0), k, alpha)))
        )
        assert row["true_incremental"] == pytest.approx(expected, rel=1e-12)


def test_a_channel_without_params_is_named() -> None:
    channel_daily = pl.DataFrame(
        {
            "tenant_id": "northwind",
            "date": pl.date_range(date(2024, 1, 1), date(2024, 12, 30), eager=True),
            "channel": "tiktok",
            "spend": 10.0,
            "adstock": 20.0,
            "incremental_conversions": 1.0,
            "incremental_revenue": 50.0,
        }
    )
    params = pl.DataFrame(
        {
            "tenant_id": ["northwind"],
            "channel": ["meta"],
            "hill_k": [1.0],
            "hill_alpha": [1.0],
            "beta": [1.0],
            "revenue_per_conversion": [1.0],
        }
    )
    with pytest.raises(ValueError, match=r"northwind.*tiktok"):
        lift_tests_truth(channel_daily, params, seed=1)


def test_the_scale_formula_reproduces_the_holdout_contribution(tiny_world, tests_) -> None:
    # At (1.0, 0.0) the scale-test formula is the channel's whole contribution over the window, exactly
    # truth/channel_daily's incremental columns: the formula and the world agree.
    channel, params = tiny_world.truth["channel_daily"], tiny_world.truth["channel_params"]
    for row in tests_.filter(pl.col("kpi") == "revenue").iter_rows(named=True):
        key = (pl.col("tenant_id") == row["tenant_id"]) & (pl.col("channel") == row["channel"])
        window = channel.filter(key & pl.col("date").is_between(row["start_date"], row["end_date"]))
        p = params.filter(key).row(0, named=True)
        whole = scaled_incremental(window["adstock"].to_numpy(), p, 1.0, 0.0)
        assert whole["revenue"] == pytest.approx(float(window["incremental_revenue"].sum()), rel=1e-9)
        assert whole["conversions"] == pytest.approx(float(window["incremental_conversions"].sum()), rel=1e-9)


def test_scale_read_outs_measure_the_response_curve(tiny_world, scale_tests) -> None:
    channel, params = tiny_world.truth["channel_daily"], tiny_world.truth["channel_params"]
    for row in scale_tests.iter_rows(named=True):
        key = (pl.col("tenant_id") == row["tenant_id"]) & (pl.col("channel") == row["channel"])
        window = channel.filter(key & pl.col("date").is_between(row["start_date"], row["end_date"]))
        column = "incremental_revenue" if row["kpi"] == "revenue" else "incremental_conversions"
        whole = float(window[column].sum())
        # Diminishing returns: the top half of spend (or the extra 50 %) brings less than half the whole.
        assert 0 < row["true_incremental"] < 0.5 * whole, row
        assert row["standard_error"] == pytest.approx(RELATIVE_SE * whole, abs=0.006)  # noise of the market
        z = (row["incremental"] - row["true_incremental"]) / row["standard_error"]
        assert abs(z) < 4.5, row
        # Recomputed from the raw daily spend: adstock of spend x s through the Hill curve.
        p = params.filter(key).row(0, named=True)
        s_t, s_c = row["treatment_spend_scale"], row["control_spend_scale"]
        beta = p["beta"] * (p["revenue_per_conversion"] if row["kpi"] == "revenue" else 1.0)
        a = window["adstock"].to_numpy()
        k, alpha = p["hill_k"], p["hill_alpha"]
        expected = beta * sum((s_t * x) ** alpha / ((s_t * x) ** alpha + k**alpha) for x in a) - beta * sum(
            (s_c * x) ** alpha / ((s_c * x) ** alpha + k**alpha) for x in a
        )
        assert row["true_incremental"] == pytest.approx(expected, rel=1e-9)


def test_the_programme_changes_no_other_table(tiny_world, monkeypatch) -> None:
    monkeypatch.setattr(
        generator,
        "lift_tests_truth",
        lambda channel, params, seed, end: lift_tests_truth(channel, params, seed, end).head(0),
    )
    without = generator.generate_world("tiny", 7)
    for name in WORLD_TABLES:
        assert without.table(name).equals(tiny_world.table(name)), name
    for name, frame in tiny_world.truth.items():
        if name != "lift_tests":
            assert without.truth[name].equals(frame), name


def test_vendor_drops_import_back_exactly(tiny_world, all_tests, tmp_path: Path) -> None:
    tests_ = all_tests
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
