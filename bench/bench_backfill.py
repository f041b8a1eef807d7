"""Backfill and daily run through Dagster, against a full refresh, on a fresh home.

    .venv/bin/python bench/bench_backfill.py                     # demo preset, 3 daily runs
    .venv/bin/python bench/bench_backfill.py --preset tiny --daily 2

(a) backfill: every asset over the whole partition range of the world (two years on demo) in ONE
    in-process run, as `mos demo` does (ingest assets have single-run backfill policies);
(b) full refresh: the same range again over the loaded warehouse (the baseline a daily run is held to);
(c) daily run: `SandboxState.advance(1)` then the `daily` job for the newest day only (each ingest
    asset widens it to its look-back window: Meta 28 days, others 7; dbt's incremental models
    delete+insert that window), `--daily` times, each after one more advanced day;
(d) the weekly refit (`weekly_refit` job: attribution marts, data-driven attribution, MMM, the
    forecasts' model selection, the lead-model fit), once.
Prints the medians, the daily/full ratio (targets: backfill <= 5 min, daily <= 20% of full), where
the daily run's time goes (ingest steps, dbt, the rest; Dagster's step timings), the slowest steps and
the slowest dbt models of the last daily run (its run_results.json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

LAST_RUN_ID: list[str] = []


def _run(settings, start, end, job: str = "materialize_all") -> tuple[float, dict[str, float]]:
    from pipelines.demo import materialize_range

    steps: dict[str, float] = {}
    began = time.perf_counter()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # dbt's log, as mos demo
        result = materialize_range(settings, start, end, step_seconds=steps, selection=job)
    seconds = time.perf_counter() - began
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        raise RuntimeError(f"run {job} {start}..{end} failed: {failed}")
    LAST_RUN_ID[:] = [result.run_id]
    return seconds, steps


def _dbt_models(run_id: str, top: int = 6) -> list[tuple[str, float]]:
    """The slowest dbt nodes of a run (dagster-dbt keeps each invocation's target folder)."""
    from pipelines.dbt import TARGET_DIR

    found = sorted(TARGET_DIR.glob(f"dbt_models-{run_id[:7]}-*/run_results.json"))
    if not found:
        return []
    results = json.loads(found[-1].read_text())["results"]
    ranked = sorted(results, key=lambda r: -r["execution_time"])[:top]
    return [
        (r["unique_id"].split(".", 1)[0] + " " + r["unique_id"].split(".")[2], r["execution_time"])
        for r in ranked
    ]


def _split(steps: dict[str, float]) -> dict[str, float]:
    out = {"ingest": 0.0, "dbt": 0.0, "other": 0.0}
    for step, seconds in steps.items():
        if step.startswith("dbt"):
            out["dbt"] += seconds
        elif step.startswith(("raw", "meta_ads", "google_ads", "hubspot", "touchpoints", "fx")):
            out["ingest"] += seconds
        else:
            out["other"] += seconds
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--daily", type=int, default=3, help="daily runs (each after advance(1))")
    args = parser.parse_args(argv)

    from connectors.sandbox.generator import ensure_world
    from connectors.sandbox.state import SandboxState
    from connectors.sandbox.world import WorldMeta, world_dir
    from pipelines.dbt import prepare_manifest
    from pipelines.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="mos-bench-backfill-"))
    try:
        os.environ.update({"MOS_HOME": str(home), "MOS_PRESET": args.preset, "MOS_SEED": str(args.seed)})
        settings = Settings.from_env()
        wdir = ensure_world(args.preset, args.seed, settings.sandbox_dir)
        meta = WorldMeta.from_json((Path(wdir) / "meta.json").read_text())
        prepare_manifest(settings)  # dbt parse once, as `mos demo` does before its run

        backfill, backfill_steps = _run(settings, meta.start_date, meta.end_date)
        full, full_steps = _run(settings, meta.start_date, meta.end_date)
        daily, daily_steps = [], []
        for _ in range(args.daily):
            state = SandboxState(world_dir(settings.sandbox_dir, args.preset, args.seed))
            state.advance(1)
            seconds, steps = _run(Settings.from_env(), state.today, state.today, job="daily")
            daily.append(seconds)
            daily_steps.append(_split(steps))
        last_daily_steps, last_daily_models = steps, _dbt_models(LAST_RUN_ID[0])
        weekly, weekly_steps = _run(Settings.from_env(), None, None, job="weekly_refit")
        full_split = _split(full_steps)
        load = os.getloadavg()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    days = (meta.end_date - meta.start_date + timedelta(days=1)).days
    median_daily = statistics.median(daily)
    print(f"preset {args.preset} ({days} days), one in-process Dagster run each, seconds")
    print(f"  (a) backfill, every asset, {days} partitions      {backfill:8.1f}  (target <= 300)")
    print(
        f"      of which ingest {_split(backfill_steps)['ingest']:.1f}, dbt {_split(backfill_steps)['dbt']:.1f}"
    )
    print(f"  (b) full refresh of the same range               {full:8.1f}")
    print(f"  (c) daily run, median of {len(daily)} (new day + look-back) {median_daily:8.1f}")
    print(f"      daily / full refresh                         {median_daily / full:8.0%}  (target <= 20%)")
    print("  where the time goes (median seconds):          full   daily")
    for part in ("ingest", "dbt", "other"):
        value = statistics.median([s[part] for s in daily_steps])
        print(f"      {part:40s} {full_split[part]:6.1f}  {value:6.1f}")
    print("  slowest steps of the last daily run:")
    for step, seconds in sorted(last_daily_steps.items(), key=lambda kv: -kv[1])[:6]:
        print(f"      {step:40s} {seconds:6.1f}")
    print("  slowest dbt nodes of the last daily run:")
    for node, seconds in last_daily_models:
        print(f"      {node:40s} {seconds:6.1f}")
    print(f"  (d) weekly refit (attribution, MMM, model selection + lead fit, publish) {weekly:8.1f}")
    print(f"      of which dbt {_split(weekly_steps)['dbt']:.1f}, other {_split(weekly_steps)['other']:.1f}")
    for step, seconds in sorted(weekly_steps.items(), key=lambda kv: -kv[1])[:5]:
        print(f"      {step:40s} {seconds:6.1f}")
    print(f"  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)")


if __name__ == "__main__":
    main()
