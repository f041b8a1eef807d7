"""Benchmark: rows/s through each production connector against the sandbox world.

    .venv/bin/python bench/bench_connectors.py                          # demo preset, 3 runs per path
    .venv/bin/python bench/bench_connectors.py --repeat 5 --modes inprocess --paths hubspot_contacts
    .venv/bin/python bench/bench_connectors.py --profile /tmp/prof --paths meta_insights

Each path is called the way `pipelines/assets/ingest.py` calls it, over the whole world (every tenant,
every account, every day):

  meta_insights      MetaAdsClient.iter_insights_pages + parse_insights, 31-day windows
  google_ad_stats    GoogleAdsClient.fetch_ad_stats, 31-day windows
  hubspot_contacts   HubSpotClient.fetch_contacts (first load: the full list, pages of 100)
  hubspot_deals      HubSpotClient.fetch_deals (with associations)
  touchpoint_files   export_touchpoint_range (the sandbox's daily drops) + LandingZone.save_file per file
                     + import_touchpoint_files

Modes: `inprocess` is the httpx MockTransport the pipeline uses (`SandboxAPI.transport()`); `loopback`
is the stdlib HTTP server (`serve(state, port=0, background=True)`) with clients on `base_url=`;
`replay` records every answer of the warm-up run through the in-process sandbox (status, headers, body
bytes: `Recording`) and serves the timed runs from that recording through an `httpx.MockTransport`, so
its figure is the connector's own cost (httpx, JSON decode, paging, parsing, landing) without the fake
server generating and serialising pages. Each line prints wall seconds and rows/s (medians), the
process's CPU seconds (median and min; on a CPU-saturated box the wall figure is mostly waiting for a
core) and the load average.
Clients sleep on a `VirtualClock` in both modes (as the pipeline does in the sandbox), so rate-limit
pacing costs no wall time. Every page is landed (gzip + sidecar) in a fresh temporary LandingZone,
as in the pipeline. The first run of each (mode, path) is a warm-up (imports, sandbox caches) and is
not counted; the figure printed is the median of `--repeat` runs.

Figures (2-core dev box shared with other work, demo preset seed 7, median of 3, seconds; "before" is
the connectors as they were before the speed-ups that came with this benchmark, run back to back with
"after" in the same session, since the box's load moves every figure by up to 2x):

    in-process           rows       before   after     after rows/s
    meta_insights        47,406      4.50     1.49       ~32,000
    google_ad_stats      40,352      3.38     1.23       ~33,000
    hubspot_contacts    100,030      9.06     3.60       ~28,000
    hubspot_deals        35,700      2.66     1.38       ~26,000
    touchpoint_files  1,188,742      9.52     7.60      ~156,000

    loopback             rows       before   after
    meta_insights        47,406      5.16     2.30
    google_ad_stats      40,352      2.83     1.78
    hubspot_contacts    100,030     10.81     5.44
    hubspot_deals        35,700     21.13     2.21   (was ~40 ms of Nagle/delayed-ACK stall per response)

Replay (the connector's own cost), demo preset seed 7, 2-core box at load average 15-17 (other jobs), so
CPU seconds are the figure to read; "before" = the connectors at the commit that added replay, "after" =
orjson decode, one-pass drift checks, dict fast paths, one mkdir per folder; runs interleaved
before/after/before/after, median of 3 each (CPU s; wall s in brackets):

    replay               rows      before (2 rounds)              after (2 rounds)            after CPU rows/s
    meta_insights       42,384   1.15, 1.10  (7.1, 6.7)       0.97, 0.99  (5.7, 5.0)        ~43,000
    google_ad_stats     37,882   1.04, 1.11  (4.8, 8.6)       0.75, 0.73  (4.0, 3.1)        ~51,000
    hubspot_deals       35,706   1.33, 1.19  (10.3, 8.4)      1.09, 1.17  (6.9, 7.0)        ~31,000
    hubspot_contacts    98,013   3.44        (6.8, load 10)   3.13        (11.9, load 13)   ~31,000

At load ~9 single runs gave meta 0.74 s CPU (57k rows/s), google 0.60 s (62k), contacts 2.8 s (35k),
deals 1.09 s (33k). HubSpot is bound by bytes, not rows: 100 records a page at ~830 bytes (contacts) to
~2 KB (deals) a record, so per page ~0.55 ms JSON decode (orjson), ~0.3 ms gzip-1 and 0.1 ms sha256 of
the landed copy, two atomic file writes, before any parsing (parse alone: ~0.9 s CPU for 98k contacts).
In-process and loopback add the fake server's cost: in the same session (load 13-18) in-process meta
1.6-1.7 s CPU, contacts 8-9 s CPU, i.e. the sandbox generating pages is most of those figures.

HubSpot, columnar parsers (records into Arrow arrays page by page, HubSpot's timestamp form parsed with
its fixed format, drift collected in one pass per page): before = the commit before, after = now, runs
interleaved before/after, median of 3 each, CPU s (rows/s), 2-core box at load average 11-13:

    replay               rows      before (2 rounds)          after (2 rounds)           after CPU rows/s
    hubspot_contacts    98,013   3.31, 3.03 (30k, 32k)      2.68, 2.69 (37k, 36k)        ~36,500
    hubspot_deals       35,706   1.30, 1.00 (27k, 36k)      0.73, 0.74 (49k, 48k)        ~48,500
    in-process (1 round)         contacts 7.97 -> 7.27, deals 1.55 -> 1.26 (the fake server's cost dominates)

Where contacts' ~2.7 s goes (profiles and split runs at load ~8, where the total is ~2.2 s): landing
~0.8 s (gzip-1 of 81 MB ~0.3, sha256 ~0.07, two atomic writes, sidecar and URL redaction twice per page),
httpx plus orjson decode ~0.75-0.85 s (orjson ~0.45), parsing ~0.5 s (Arrow conversion ~0.25). The old
parser kept every record's dicts until the end of a read, and with the bench's sandbox world alive the
cyclic GC's full collections cost ~0.3-0.6 s per read; page-by-page conversion removed them.

Per-page overheads (request URL built once per page without re-parsing the long `properties=` query,
cookie jar skipped for answers without Set-Cookie, one O_EXCL open per landed temp file, URL redaction
field by field and without urlsplit for plain URLs, credential patterns only where their words occur,
sidecars written by orjson when byte-identical, one-search wide-integer check): before = main, after =
this change, the same interpreter and packages, runs interleaved main/after, median of 5 each, CPU s
(after's CPU rows/s), 2-core box at load average 2.6-4 (other jobs):

    replay               rows      before (rounds)        after (rounds)          after CPU rows/s
    hubspot_contacts    98,100   2.43, 2.44, 2.35       1.84, 1.82, 2.01        53k, 54k, 49k  (0.77x CPU)
    hubspot_deals       35,768   0.89, 0.82             0.69, 0.62              52k, 58k
    meta_insights       42,384   0.71                   0.60                    71k
    google_ad_stats     37,882   0.59                   0.56                    67k
    in-process (1 round, median of 3)   contacts 6.54 -> 5.98 s CPU, deals 1.15 -> 0.98 s CPU

At load ~1.2 (the box briefly quiet) after gave contacts 1.53 s CPU (64k rows/s) and deals 0.43 s (82k).
What contacts' ~1.9 s is now (profile, load ~3): orjson decode ~0.15-0.4, Arrow conversion of the
records ~0.25-0.35, assembling the frame ~0.2, landing ~0.5 (file creation 0.08-0.4 depending on the
disk's load, gzip ~0.1, sha256 ~0.06), httpx's request/response machinery ~0.3.

An earlier "before" run under heavier load (fsync and gzip -9 suffer most from a busy disk and CPU)
took 11.5 / 7.1 / 17.1 / 6.7 / 17.3 s in-process for the same five paths. `mos demo` (bench_demo,
median of 2 cold runs, same box): hubspot_crm 16.0 -> 8.8 s, raw__touchpoints 21.2 -> 15.2 s,
raw__meta_ads_insights 7.0 -> 5.1 s, whole process 100 -> 87 s; what remains in those steps is mostly
pipelines-side (contract validation, DuckDB inserts and connects, the one-time pandera import).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (mode, path) -> seconds (before, after) recorded back to back when the speed-ups landed (docstring).
RECORDED: dict[tuple[str, str], tuple[float, float]] = {
    ("inprocess", "meta_insights"): (4.50, 1.49),
    ("inprocess", "google_ad_stats"): (3.38, 1.23),
    ("inprocess", "hubspot_contacts"): (9.06, 3.60),
    ("inprocess", "hubspot_deals"): (2.66, 1.38),
    ("inprocess", "touchpoint_files"): (9.52, 7.60),
    ("loopback", "meta_insights"): (5.16, 2.30),
    ("loopback", "google_ad_stats"): (2.83, 1.78),
    ("loopback", "hubspot_contacts"): (10.81, 5.44),
    ("loopback", "hubspot_deals"): (21.13, 2.21),
}

PATHS = ("meta_insights", "google_ad_stats", "hubspot_contacts", "hubspot_deals", "touchpoint_files")
MODES = ("inprocess", "loopback", "replay")
WINDOW_DAYS = 31  # pipelines/assets/ingest.py REQUEST_WINDOW_DAYS


def _windows(start: date, end: date, size: int = WINDOW_DAYS) -> list[tuple[date, date]]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [(days[i], days[min(i + size, len(days)) - 1]) for i in range(0, len(days), size)]


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Recording:
    """Every HTTP answer the sandbox gave, keyed by (method, URL, request body), in the order given.

    `recorder()` wraps the in-process sandbox transport and keeps each answer's status, headers and body
    bytes; `replayer()` is an `httpx.MockTransport` handing the same pre-serialised bytes back (the n-th
    identical request gets the n-th recorded answer, so throttles and retries replay as they happened).
    A replayed run therefore costs only the connector side: httpx, JSON decode, paging, parsing, landing.
    """

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str, bytes], list[tuple[int, list[tuple[bytes, bytes]], bytes]]] = {}

    @staticmethod
    def _key(request: Any) -> tuple[str, str, bytes]:
        return (request.method, str(request.url), request.read())

    def recorder(self, inner: Any) -> Any:
        import httpx

        def handle(request: httpx.Request) -> httpx.Response:
            response = inner.handle_request(request)
            body = response.read()
            headers = list(response.headers.raw)
            self.answers.setdefault(self._key(request), []).append((response.status_code, headers, body))
            return httpx.Response(response.status_code, headers=headers, content=body)

        return httpx.MockTransport(handle)

    def replayer(self) -> Any:
        import httpx

        served: dict[tuple[str, str, bytes], int] = {}

        def handle(request: httpx.Request) -> httpx.Response:
            key = self._key(request)
            answers = self.answers.get(key)
            n = served.get(key, 0)
            if not answers or n >= len(answers):
                raise LookupError(f"replay: no recorded answer #{n + 1} for {request.method} {request.url}")
            served[key] = n + 1
            status, headers, body = answers[n]
            return httpx.Response(status, headers=headers, content=body)

        return httpx.MockTransport(handle)

    @property
    def bytes(self) -> int:
        return sum(len(body) for answers in self.answers.values() for _, _, body in answers)


class Env:
    """The world, the fake APIs in one mode and a fresh landing zone per run.

    Mode `replay`: the warm-up run goes through the in-process sandbox while `recording` keeps every
    answer; each timed run then gets a fresh replaying transport (`Env.start_run`), so the figure
    excludes the fake server's cost of generating and serialising pages.
    """

    def __init__(self, world_dir: Path, mode: str) -> None:
        from connectors.sandbox.api import SandboxAPI, serve
        from connectors.sandbox.clock import VirtualClock
        from connectors.sandbox.state import SandboxState

        self.state = SandboxState(world_dir)
        self.world = self.state.world
        self.mode = mode
        self.clock = VirtualClock()
        self.server = None
        self.transport = None
        self.base_urls: dict[str, str] = {}
        self.recording = Recording()
        if mode == "inprocess":
            self.transport = SandboxAPI(self.state, clock=self.clock.monotonic).transport()
        elif mode == "replay":
            self.sandbox_transport = SandboxAPI(self.state, clock=self.clock.monotonic).transport()
            self.transport = self.recording.recorder(self.sandbox_transport)
        else:
            self.server = serve(self.state, port=0, background=True)
            self.base_urls = self.server.base_urls
        self.start, self.end = self.world.meta.start_date, self.world.meta.end_date
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-connectors-"))

    def start_warmup(self) -> None:
        """Before a path's warm-up run: in replay mode, record the sandbox's answers."""
        if self.mode == "replay":
            self.transport = self.recording.recorder(self.sandbox_transport)

    def start_run(self) -> None:
        """Before a timed run: in replay mode, answer from the recording from now on."""
        if self.mode == "replay":
            self.transport = self.recording.replayer()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def accounts(self, platform: str) -> list[tuple[str, str]]:
        frame = self.world.accounts.filter(self.world.accounts["platform"] == platform).sort("account_id")
        return list(zip(frame["tenant_id"].to_list(), frame["account_id"].to_list(), strict=True))

    def tenants(self) -> list[str]:
        return sorted(self.world.tenants["tenant_id"].to_list())

    def landing(self, run: str) -> Any:
        from connectors.landing import LandingZone

        return LandingZone(self.tmp / run / "landing")

    def client_kwargs(self, platform: str, run: str, tenant_id: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "tenant_id": tenant_id,
            "landing": self.landing(run),
            "sleep": self.clock.sleep,
        }
        if self.transport is not None:
            kwargs["transport"] = self.transport
        else:
            kwargs["base_url"] = self.base_urls[platform]
        return kwargs


# ---- one run of each path: returns the number of rows it produced ---------------------------------


def run_meta_insights(env: Env, run: str) -> int:
    import polars as pl

    from connectors.meta_ads import MetaAdsClient

    frames = []
    for tenant_id, account_id in env.accounts("meta"):
        kwargs = env.client_kwargs("meta", run, tenant_id)
        with MetaAdsClient(f"sandbox-{tenant_id}", account_id, **kwargs) as client:
            for first, last in _windows(env.start, env.end):
                pages = list(client.iter_insights_pages(first, last, level="ad"))
                frames.append(client.parse_insights(pages, tenant_id))
    return pl.concat(frames, how="diagonal_relaxed").height


def run_google_ad_stats(env: Env, run: str) -> int:
    import polars as pl

    from connectors.google_ads import GoogleAdsClient

    frames = []
    for tenant_id, customer_id in env.accounts("google_ads"):
        kwargs = env.client_kwargs("google_ads", run, tenant_id)
        with GoogleAdsClient(f"sandbox-{tenant_id}", "sandbox-developer", customer_id, **kwargs) as client:
            for first, last in _windows(env.start, env.end):
                frames.append(client.fetch_ad_stats(first, last))
    return pl.concat(frames, how="diagonal_relaxed").height


def _run_hubspot(env: Env, run: str, what: str) -> int:
    from connectors.hubspot import HubSpotClient

    rows = 0
    for tenant_id in env.tenants():
        kwargs = env.client_kwargs("hubspot", run, tenant_id)
        with HubSpotClient(f"sandbox-{tenant_id}", **kwargs) as client:
            frame = client.fetch_contacts() if what == "contacts" else client.fetch_deals()
            rows += frame.height
    return rows


def run_hubspot_contacts(env: Env, run: str) -> int:
    return _run_hubspot(env, run, "contacts")


def run_hubspot_deals(env: Env, run: str) -> int:
    return _run_hubspot(env, run, "deals")


def run_touchpoint_files(env: Env, run: str) -> int:
    from connectors.files import import_touchpoint_files
    from connectors.sandbox.files import export_touchpoint_range

    inbox = env.tmp / run / "inbox"
    landing = env.landing(run)
    rows = 0
    for tenant_id in env.tenants():
        export_touchpoint_range(env.state, inbox, env.start, env.end, tenants=[tenant_id])
        folder = inbox / "touchpoints" / tenant_id
        paths = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        for path in paths:
            landing.save_file("touchpoints", tenant_id, path)
        rows += import_touchpoint_files(paths, tenant_id=tenant_id).frame.height
    return rows


RUNNERS: dict[str, Callable[[Env, str], int]] = {
    "meta_insights": run_meta_insights,
    "google_ad_stats": run_google_ad_stats,
    "hubspot_contacts": run_hubspot_contacts,
    "hubspot_deals": run_hubspot_deals,
    "touchpoint_files": run_touchpoint_files,
}


def bench(
    world_dir: Path, modes: list[str], paths: list[str], repeat: int, profile: Path | None
) -> list[dict[str, Any]]:
    results = []
    for mode in modes:
        env = Env(world_dir, mode)
        try:
            for path in paths:
                if mode != "inprocess" and path == "touchpoint_files":
                    continue  # files never go over HTTP
                runner = RUNNERS[path]
                env.start_warmup()
                runner(env, f"{path}-warmup")  # warm-up: imports, sandbox frame caches (replay: records)
                times, cpu, rows = [], [], 0
                for i in range(repeat):
                    run = f"{path}-{i}"
                    prof = cProfile.Profile() if profile is not None and i == 0 else None
                    env.start_run()
                    c0, t0 = time.process_time(), time.perf_counter()
                    if prof is not None:
                        prof.enable()
                    rows = runner(env, run)
                    if prof is not None:
                        prof.disable()
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                    if prof is not None and profile is not None:
                        profile.mkdir(parents=True, exist_ok=True)
                        prof.dump_stats(profile / f"{mode}-{path}.prof")
                    shutil.rmtree(env.tmp / run, ignore_errors=True)
                median, cpu_median = statistics.median(times), statistics.median(cpu)
                results.append(
                    {
                        "mode": mode,
                        "path": path,
                        "rows": rows,
                        "seconds": median,
                        "cpu": cpu_median,
                        "runs": times,
                    }
                )
                before, after = RECORDED.get((mode, path), (float("nan"), float("nan")))
                print(
                    f"{mode:10s} {path:18s} {rows:>10,d} rows  {median:7.2f} s  "
                    f"{rows / median:>12,.0f} rows/s   cpu {cpu_median:.2f} s = {rows / cpu_median:>9,.0f} rows/s"
                    f" (min {min(cpu):.2f} s)"
                    f"   runs: {', '.join(f'{t:.2f}' for t in times)}"
                    f"   (recorded: before {before:.2f} s, after {after:.2f} s)   load {load_average()}",
                    flush=True,
                )
        finally:
            env.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per path (median reported)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument(
        "--world-root",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mos-bench-worlds",
        help="where the sandbox world is generated (once) and reused",
    )
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats of run 1 here")
    args = parser.parse_args(argv)

    from connectors.sandbox.generator import ensure_world

    world_dir = ensure_world(args.preset, args.seed, args.world_root)
    print(f"world: {world_dir}  repeat={args.repeat}", flush=True)
    bench(world_dir, args.modes, args.paths, args.repeat, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
