"""One demo world and its calibrated MMM fit per test process, shared by the MMM and budget tests."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import polars as pl

from bench.mmm_world import lift_tests_from_drops, warehouse_inputs
from connectors.sandbox.generator import ensure_world
from models_ml.mmm import MMMConfig, MMMOutputs, run_mmm

SEED = 7
# The calibrated tests use the world's own experimentation programme (connectors/sandbox/experiments.py:
# 4 geo/holdout tests of 2-4 weeks per paid channel over the two years, 10 % standard error each, and
# 4 budget-scaling tests at +/-50 % of spend, whose error is 10 % of the window's contribution), read
# from the vendor's CSV drops through the lift-test importer, as the pipeline reads them.


@cache
def demo_world() -> Path:
    """The demo preset (~5 s to generate), written once per process in a temporary directory."""
    root = Path(tempfile.mkdtemp(prefix="mos-mmm-world-"))
    return ensure_world("demo", SEED, root)


@cache
def demo_fit(calibrated: bool) -> MMMOutputs:
    world = demo_world()
    channel_daily, kpi_daily = warehouse_inputs(world)
    lift_tests = lift_tests_from_drops(world) if calibrated else None
    return run_mmm(
        channel_daily, kpi_daily, kpis=("revenue",), config=MMMConfig(seed=SEED), lift_tests=lift_tests
    )


def truth(name: str) -> pl.DataFrame:
    return pl.read_parquet(demo_world() / "truth" / f"{name}.parquet")
