"""Benchmark: rows/s through the owned-media connectors (Mailchimp reports, social posts, mentions,
influencers) against the sandbox world, in-process and on loopback.

    .venv/bin/python bench/bench_connectors_owned.py                   # demo preset, median of 3
    .venv/bin/python bench/bench_connectors_owned.py --preset tiny --repeat 5 --modes inprocess

Each path is called as `pipelines/assets/ingest_owned.py` calls it on a first load (everything, every
tenant), with every page landed in a fresh temporary LandingZone and clients sleeping on a VirtualClock:

  mailchimp_reports    MailchimpClient.fetch_reports()                 (count=1000 per page)
  social_posts         SocialClient.fetch_posts()                      (every own account, limit=100)
  social_mentions      SocialClient.fetch_mentions(tenant keyword)     (limit=100)
  social_influencers   SocialClient.fetch_influencers()

The world is generated (not saved): `generate_world(preset, seed)`; when it has no owned-media tables
the fake APIs build them with `connectors/sandbox/owned.py` (that one-time cost is in the warm-up run,
which is not counted).

Figures (2-core box shared with 7 other jobs, demo preset seed 7, median of 3; they move by up to 2x):

    mode       path                  rows   median s   rows/s
    inprocess  mailchimp_reports      421      0.07     ~6,000
    inprocess  social_posts         2,773      0.30     ~9,000
    inprocess  social_mentions     21,782      2.4      ~9,000
    inprocess  social_influencers     120      0.01    ~15,000
    loopback   mailchimp_reports      421      0.27     ~1,500
    loopback   social_posts         2,773      0.59     ~4,700
    loopback   social_mentions     21,782      3.0      ~7,200
    loopback   social_influencers     120      0.26       ~460

Mode `replay` (see bench_connectors.py) serves the warm-up's recorded answers again: the connector's own
cost. Load average 18-19, median of 3, CPU seconds (rows/s by CPU): mailchimp_reports 0.013 s (~32k),
social_posts 0.054-0.062 s (~45-51k), social_mentions 0.39-0.54 s (~40-55k), social_influencers 0.004-
0.007 s; in-process the same paths take 0.02 / 0.11 / 0.65 / 0.006 s CPU (the fake server's share).
Mention ids are 19-digit strings; the JSON decode's wide-integer scan no longer slows on them (orjson
3.4x faster than json.loads on those pages, the scan included).

Small tables are dominated by per-request cost (one page of reports, one of influencers; loopback adds
~0.25 s of server start-up per first request). Mentions (218 pages of 100): matching the keyword once
per listing instead of once per page took in-process from 2.1 s to 1.8 s in the same session.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PATHS = ("mailchimp_reports", "social_posts", "social_mentions", "social_influencers")
MODES = ("inprocess", "loopback", "replay")


class _State:
    def __init__(self, world: Any) -> None:
        self.world, self.today, self.world_dir = world, world.meta.end_date, None


class _Transport:
    """The transport clients get: the sandbox in-process, nothing on loopback, or in `replay` mode the
    recording of the warm-up run's answers (see bench_connectors.Recording)."""

    def __init__(self, mode: str, sandbox: Any) -> None:
        from bench.bench_connectors import Recording

        self.mode, self.sandbox, self.recording = mode, sandbox, Recording()
        self.current = sandbox

    def warmup(self) -> None:
        if self.mode == "replay":
            self.current = self.recording.recorder(self.sandbox)

    def run(self) -> None:
        if self.mode == "replay":
            self.current = self.recording.replayer()


def _clients(
    mode: str, state: _State
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[[], None], _Transport]:
    from connectors.mailchimp import MailchimpClient
    from connectors.sandbox.api import SandboxAPI, serve
    from connectors.sandbox.clock import VirtualClock
    from connectors.social import SocialClient

    clock = VirtualClock()
    if mode in ("inprocess", "replay"):
        transport = _Transport(mode, SandboxAPI(state, clock=clock.monotonic).transport())
        urls: dict[str, str] = {}
        stop: Callable[[], None] = lambda: None  # noqa: E731
    else:
        server = serve(state, port=0, background=True)
        transport, urls, stop = _Transport(mode, None), server.base_urls, server.stop

    def mailchimp(tenant: str, landing: Any) -> Any:
        extra = {"base_url": urls["mailchimp"]} if urls else {}
        return MailchimpClient(
            f"sandbox-{tenant}-us21",
            transport=transport.current,
            landing=landing,
            tenant_id=tenant,
            sleep=clock.sleep,
            **extra,
        )

    def social(tenant: str, landing: Any) -> Any:
        extra = {"base_url": urls["social"]} if urls else {}
        return SocialClient(
            f"sandbox-{tenant}",
            transport=transport.current,
            landing=landing,
            tenant_id=tenant,
            sleep=clock.sleep,
            **extra,
        )

    return mailchimp, social, stop, transport


def _run(path: str, mailchimp: Callable[..., Any], social: Callable[..., Any], tenants: list[str]) -> int:
    from connectors.landing import LandingZone

    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        landing = LandingZone(Path(tmp))
        for tenant in tenants:
            if path == "mailchimp_reports":
                with mailchimp(tenant, landing) as client:
                    rows += client.fetch_reports()[0].height
                continue
            with social(tenant, landing) as client:
                if path == "social_posts":
                    rows += client.fetch_posts()[0].height
                elif path == "social_mentions":
                    rows += client.fetch_mentions(tenant)[0].height
                else:
                    rows += client.fetch_influencers()[0].height
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    args = parser.parse_args(argv)

    from bench.bench_connectors import load_average
    from connectors.sandbox.generator import generate_world

    world = generate_world(args.preset, args.seed)
    state = _State(world)
    tenants = sorted(world.tenants["tenant_id"].to_list())
    print(
        f"preset {args.preset} seed {args.seed}, tenants {tenants}, median of {args.repeat} (after a warm-up)"
    )
    print(f"{'mode':<10} {'path':<20} {'rows':>8} {'median s':>9} {'rows/s':>10}")
    for mode in args.modes:
        mailchimp, social, stop, transport = _clients(mode, state)
        try:
            for path in args.paths:
                transport.warmup()
                rows = _run(path, mailchimp, social, tenants)  # warm-up: imports, caches (replay: records)
                times, cpu = [], []
                for _ in range(args.repeat):
                    transport.run()
                    cpu_started, started = time.process_time(), time.perf_counter()
                    rows = _run(path, mailchimp, social, tenants)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
                median, cpu_median = statistics.median(times), statistics.median(cpu)
                print(
                    f"{mode:<10} {path:<20} {rows:>8,} {median:>9.3f} {rows / median:>10,.0f}"
                    f"   cpu {cpu_median:.3f} s = {rows / cpu_median:>9,.0f} rows/s (min {min(cpu):.3f} s)"
                    f"   runs: {', '.join(f'{t:.3f}' for t in times)}   load {load_average()}",
                    flush=True,
                )
        finally:
            stop()
    return 0


def run() -> int:
    return main([])


if __name__ == "__main__":
    raise SystemExit(main())
