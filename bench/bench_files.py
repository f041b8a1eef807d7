"""Benchmark: rows/s through the file importers (connectors/imports) on the sandbox world's drops.

    .venv/bin/python bench/bench_files.py                     # demo preset, median of 3 runs per path
    .venv/bin/python bench/bench_files.py --preset tiny --repeat 5

The world's weekly drops for its whole period are exported once into a temporary inbox (not timed),
then each importer reads every tenant's drops the way `pipelines/assets/ingest_files.py` does:

  offline_csv        import_offline_conversion_files, Northwind's CSV drops (email hashing included)
  offline_parquet    import_offline_conversion_files, Bellavista's Parquet drops
  erasure_csv        import_erasure_request_files, both tenants
  ad_reports_de      import_ad_report_files, Bellavista's German-locale LinkedIn-style CSVs
  ad_reports_us      import_ad_report_files, Northwind's US-locale CSVs
  ad_reports_big     one ad-report file of every tenant-week concatenated 20x (per-file overhead vs rows)

Each figure is read + convert + contract (pandera) per file. The first run is a warm-up (imports,
pandera schema build) and is not counted; printed: the median seconds and rows/s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _big_report(inbox: Path, tenant: str, copies: int) -> Path:
    """One long German report: the header of the first drop, the data lines of all drops, `copies` times."""
    files = sorted((inbox / "ad_reports" / tenant).glob("*.csv"))
    head = files[0].read_bytes().split(b"\n")[:6]
    body = [line for f in files for line in f.read_bytes().split(b"\n")[6:] if line.strip()]
    out = inbox / "big" / tenant / f"linkedin_campaign_manager_{files[-1].name.rsplit('_', 1)[1]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Repeat rows with a shifted creative id so the contract's duplicate check does not drop them.
    lines = list(head)
    for k in range(copies):
        lines += [line.replace(b";1", f";{k + 1}1".encode(), 1) if k else line for line in body]
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from connectors.imports import (
        import_ad_report_files,
        import_erasure_request_files,
        import_offline_conversion_files,
        load_mappings,
    )
    from connectors.sandbox.files import export_weekly_drops
    from connectors.sandbox.generator import ensure_world
    from connectors.sandbox.world import World

    root = Path(tempfile.mkdtemp(prefix="bench-files-"))
    try:
        world = World.load(ensure_world(args.preset, args.seed, ROOT / "data" / "sandbox"))
        inbox = root / "inbox"
        started = time.perf_counter()
        export_weekly_drops(world, inbox, world.meta.start_date, world.meta.end_date)
        print(f"exported the weekly drops of {args.preset} in {time.perf_counter() - started:.1f} s")
        mappings = load_mappings(ROOT / "config" / "imports")
        big = _big_report(inbox, "bellavista", 20)

        def files(folder: str, tenant: str) -> list[Path]:
            return sorted((inbox / folder / tenant).iterdir())

        paths: dict[str, Callable[[], object]] = {
            "offline_csv": lambda: import_offline_conversion_files(
                files("offline_conversions", "northwind"), tenant_id="northwind"
            ),
            "offline_parquet": lambda: import_offline_conversion_files(
                files("offline_conversions", "bellavista"), tenant_id="bellavista"
            ),
            "erasure_csv": lambda: [
                import_erasure_request_files(files("erasure_requests", t), tenant_id=t)
                for t in ("northwind", "bellavista")
            ],
            "ad_reports_de": lambda: import_ad_report_files(
                files("ad_reports", "bellavista"), mappings, tenant_id="bellavista"
            ),
            "ad_reports_us": lambda: import_ad_report_files(
                files("ad_reports", "northwind"), mappings, tenant_id="northwind"
            ),
            "ad_reports_big": lambda: import_ad_report_files([big], mappings, tenant_id="bellavista"),
        }
        print(f"{'path':<18}{'files':>7}{'rows':>10}{'median s':>10}{'rows/s':>12}")
        for name, run in paths.items():
            result = run()  # warm-up
            results = result if isinstance(result, list) else [result]
            rows = sum(r.frame.height for r in results)
            n_files = sum(len(r.files) + len(r.errors) for r in results)
            problems = sum(len(r.messages()) for r in results)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
            median = statistics.median(times)
            note = f"  ({problems} problems)" if problems else ""
            print(f"{name:<18}{n_files:>7}{rows:>10,}{median:>10.3f}{rows / median:>12,.0f}{note}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
