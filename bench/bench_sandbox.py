"""Benchmark: generate + save a sandbox world (median wall time and peak RSS per preset).

    .venv/bin/python bench/bench_sandbox.py                      # tiny and demo, 3 runs each
    .venv/bin/python bench/bench_sandbox.py --repeat 5 --presets demo --advance 7

Each preset runs in a fresh subprocess so its peak RSS is its own. The first run in the child is a
warm-up (imports, polars thread pool) and is not counted. `--advance N` also times a SandboxState
load plus N one-day advances on the saved world.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _child(preset: str, repeat: int, seed: int, advance: int) -> dict:
    from connectors.sandbox.generator import generate_world
    from connectors.sandbox.state import SandboxState

    generate_world(preset, seed)  # warm-up
    gen, save, total = [], [], []
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            t0 = time.perf_counter()
            world = generate_world(preset, seed)
            t1 = time.perf_counter()
            world.save(Path(tmp) / f"run{i}")
            t2 = time.perf_counter()
            gen.append(t1 - t0)
            save.append(t2 - t1)
            total.append(t2 - t0)
        rows = {
            name: world.table(name).height
            for name in ("campaigns", "ads", "delivery", "contacts", "touchpoints")
        }
        result = {"preset": preset, "generate": gen, "save": save, "total": total, "rows": rows}
        if advance:
            t0 = time.perf_counter()
            state = SandboxState(Path(tmp) / "run0")
            t1 = time.perf_counter()
            steps = []
            for _ in range(advance):
                a = time.perf_counter()
                state.advance(1)
                steps.append(time.perf_counter() - a)
            result["state_load"] = t1 - t0
            result["advance_1day"] = steps
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per preset (default 3)")
    parser.add_argument("--presets", nargs="+", default=["tiny", "demo"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--advance", type=int, default=0, help="also time N one-day SandboxState.advance calls"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.repeat, args.seed, args.advance)))
        return

    results = []
    for preset in args.presets:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            preset,
            "--repeat",
            str(args.repeat),
            "--seed",
            str(args.seed),
        ]
        cmd += ["--advance", str(args.advance)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    base = statistics.median(results[0]["total"])
    print(f"sandbox generate+save, seed {args.seed}, {args.repeat} runs (median [min-max])")
    for r in results:
        med = statistics.median(r["total"])
        print(
            f"  {r['preset']:<6} total {med:6.2f}s [{min(r['total']):.2f}-{max(r['total']):.2f}]"
            f"  generate {statistics.median(r['generate']):5.2f}s  save {statistics.median(r['save']):5.2f}s"
            f"  x{med / base:5.1f} vs {results[0]['preset']}  peak RSS {r['peak_rss_mb']:7.0f} MB"
        )
        print("         rows: " + ", ".join(f"{k} {v:,}" for k, v in r["rows"].items()))
        if "advance_1day" in r:
            print(
                f"         SandboxState load {r['state_load']:.2f}s, advance(1) median "
                f"{statistics.median(r['advance_1day']):.3f}s over {len(r['advance_1day'])} days"
            )


if __name__ == "__main__":
    main()
