"""`python -m bench` (or `make bench`): every benchmark, figures printed, nothing asserted."""

from __future__ import annotations

import subprocess
import sys

SUITES = [
    ("sandbox generation (tiny, demo)", ["bench/bench_sandbox.py", "--repeat", "3"]),
    ("forecast model (demo-size input)", ["bench/bench_forecast.py"]),
    ("attribution (Markov 1e6 journeys, Shapley, distance to truth)", ["bench/bench_attribution.py"]),
    ("media-mix model and budget optimiser vs truth (demo world)", ["-m", "bench.bench_mmm", "--runs", "3"]),
    (
        "signal models: anomalies, fatigue, lead scoring, campaign forecasts (demo world)",
        ["bench/bench_signals.py"],
    ),
    ("connectors (rows/s, in-process and loopback)", ["bench/bench_connectors.py", "--repeat", "3"]),
    ("LinkedIn and TikTok connectors (rows/s)", ["bench/bench_connectors_paid.py", "--repeat", "3"]),
    ("file importers (rows/s)", ["bench/bench_files.py", "--repeat", "3"]),
    ("mos demo stages and peak memory", ["-m", "bench.bench_demo", "--repeat", "3"]),
]


def main() -> int:
    failed = 0
    for title, args in SUITES:
        print(f"\n=== {title} ===", flush=True)
        failed += subprocess.run([sys.executable, *args], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
