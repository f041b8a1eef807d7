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
which is not counted). Figures: see the report printed at the end (rows, median seconds, rows/s).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PATHS = ("mailchimp_reports", "social_posts", "social_mentions", "social_influencers")
MODES = ("inprocess", "loopback")


class _State:
    def __init__(self, world: Any) -> None:
        self.world, self.today, self.world_dir = world, world.meta.end_date, None


def _clients(mode: str, state: _State) -> tuple[Callable[..., Any], Callable[..., Any], Callable[[], None]]:
    from connectors.mailchimp import MailchimpClient
    from connectors.sandbox.api import SandboxAPI, serve
    from connectors.sandbox.clock import VirtualClock
    from connectors.social import SocialClient

    clock = VirtualClock()
    if mode == "inprocess":
        transport = SandboxAPI(state, clock=clock.monotonic).transport()
        urls: dict[str, str] = {}
        stop: Callable[[], None] = lambda: None  # noqa: E731
    else:
        server = serve(state, port=0, background=True)
        transport, urls, stop = None, server.base_urls, server.stop

    def mailchimp(tenant: str, landing: Any) -> Any:
        extra = {"base_url": urls["mailchimp"]} if urls else {}
        return MailchimpClient(
            f"sandbox-{tenant}-us21",
            transport=transport,
            landing=landing,
            tenant_id=tenant,
            sleep=clock.sleep,
            **extra,
        )

    def social(tenant: str, landing: Any) -> Any:
        extra = {"base_url": urls["social"]} if urls else {}
        return SocialClient(
            f"sandbox-{tenant}",
            transport=transport,
            landing=landing,
            tenant_id=tenant,
            sleep=clock.sleep,
            **extra,
        )

    return mailchimp, social, stop


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

    from connectors.sandbox.generator import generate_world

    world = generate_world(args.preset, args.seed)
    state = _State(world)
    tenants = sorted(world.tenants["tenant_id"].to_list())
    print(
        f"preset {args.preset} seed {args.seed}, tenants {tenants}, median of {args.repeat} (after a warm-up)"
    )
    print(f"{'mode':<10} {'path':<20} {'rows':>8} {'median s':>9} {'rows/s':>10}")
    for mode in args.modes:
        mailchimp, social, stop = _clients(mode, state)
        try:
            for path in args.paths:
                rows = _run(path, mailchimp, social, tenants)  # warm-up: imports, sandbox caches
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    rows = _run(path, mailchimp, social, tenants)
                    times.append(time.perf_counter() - started)
                median = statistics.median(times)
                print(f"{mode:<10} {path:<20} {rows:>8,} {median:>9.3f} {rows / median:>10,.0f}", flush=True)
        finally:
            stop()
    return 0


def run() -> int:
    return main([])


if __name__ == "__main__":
    raise SystemExit(main())
