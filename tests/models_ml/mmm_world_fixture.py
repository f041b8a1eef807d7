"""One demo world and its calibrated MMM fit per test process, shared by the MMM and budget tests."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import polars as pl

from bench.mmm_world import lift_tests_from_truth, warehouse_inputs
from connectors.sandbox.generator import ensure_world
from models_ml.mmm import MMMConfig, MMMOutputs, run_mmm

SEED = 7
# The experimentation programme the calibrated tests assume: 4 lift tests of 28 days per paid channel
# over the two years, each measured with a 10 % standard error.
LIFT_TESTS = {"tests_per_channel": 4, "window_days": 28, "relative_se": 0.10, "seed": 0}


@cache
def demo_world() -> Path:
    """The demo preset (~5 s to generate), written once per process in a temporary directory."""
    root = Path(tempfile.mkdtemp(prefix="mos-mmm-world-"))
    return ensure_world("demo", SEED, root)


@cache
def demo_fit(calibrated: bool) -> MMMOutputs:
    world = demo_world()
    channel_daily, kpi_daily = warehouse_inputs(world)
    lift_tests = lift_tests_from_truth(world, **LIFT_TESTS) if calibrated else None
    return run_mmm(
        channel_daily, kpi_daily, kpis=("revenue",), config=MMMConfig(seed=SEED), lift_tests=lift_tests
    )


def truth(name: str) -> pl.DataFrame:
    return pl.read_parquet(demo_world() / "truth" / f"{name}.parquet")
