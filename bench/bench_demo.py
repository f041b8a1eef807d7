"""Wall time of each stage of `mos demo` and its peak memory, median over repeats, on a fresh home.

Each repeat runs in its own process (a cold start, like a user's `make demo` after the install), with
the demo world already generated (its generation is measured by bench_sandbox). Prints a table of
medians and the ratio of each stage to the whole run.

    python -m bench.bench_demo --preset demo --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
from rich.console import Console
from pipelines.demo import run_demo
from pipelines.settings import Settings
report = run_demo(Settings.from_env(), console=Console(file=open(os.devnull, "w")))
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"exit": report.exit_code, "seconds": report.seconds, "steps": report.step_seconds,
                  "process_total": time.perf_counter() - t0, "peak_rss_mib": self_kb / 1024,
                  "peak_child_rss_mib": child_kb / 1024}))
"""


def run_once(preset: str, seed: int, worlds: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix="mos-bench-demo-"))
    try:
        shutil.copytree(worlds, home / "sandbox")
        env = {**os.environ, "MOS_HOME": str(home), "MOS_PRESET": preset, "MOS_SEED": str(seed)}
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"demo run failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from connectors.sandbox.generator import ensure_world

    worlds = Path(tempfile.mkdtemp(prefix="mos-bench-worlds-"))
    ensure_world(args.preset, args.seed, worlds)
    runs = [run_once(args.preset, args.seed, worlds) for _ in range(args.repeat)]
    shutil.rmtree(worlds, ignore_errors=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    total = med([r["process_total"] for r in runs])
    print(f"mos demo, preset {args.preset}, {args.repeat} cold runs (median; ratio of the whole run)")
    print(f"  {'whole process (imports included)':38s} {total:7.1f} s")
    for stage in runs[0]["seconds"]:
        value = med([r["seconds"].get(stage, 0.0) for r in runs])
        print(f"  {stage:38s} {value:7.1f} s  {value / total:5.0%}")
    steps = sorted(runs[0]["steps"], key=lambda s: -runs[0]["steps"][s])
    for step in steps:
        value = med([r["steps"].get(step, 0.0) for r in runs])
        print(f"    {step:36s} {value:7.1f} s  {value / total:5.0%}")
    print(
        f"  peak RSS: pipeline process {med([r['peak_rss_mib'] for r in runs]):.0f} MiB, "
        f"largest child (dbt) {med([r['peak_child_rss_mib'] for r in runs]):.0f} MiB"
    )


if __name__ == "__main__":
    main()
