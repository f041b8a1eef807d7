"""Benchmark data-driven attribution: exact Markov end to end, Shapley on 15 channels, distance to truth.

1. Markov on 10^6 journeys, end to end: a synthetic `int_journey_touches` (10^6 journeys, ~2.5 x 10^6
   touches, 10 channels) is generated in DuckDB; the dbt model `fct_attribution_transitions`
   (compiled by dbt, run by DuckDB) counts the transitions of orders 1-3; `models_ml` solves the
   removal effects of every order. Median wall time of the SQL step, the solve and the total.
2. Shapley: exact values over 2^15 coalitions from synthetic coalition counts (median wall time).
3. Distance to the truth on the demo world (if `make demo` has run): total variation distance
   between each model's shares in `ml.attribution_channel` (full window) and the true incremental
   shares, last click (`last_touch`) being the baseline.

    .venv/bin/python bench/bench_attribution.py [--journeys 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from models_ml.attribution import markov_removal_effects, shapley_values, total_variation_distance
from pipelines.settings import DBT_PROJECT_DIR, Settings

N_CHANNELS = 10

SYNTHETIC_JOURNEYS = """
create or replace table intermediate.int_journey_touches as
with journeys as (
    select
        range as j,
        1 + cast(hash(range, 'length') % 4 as integer) as n_touches,
        cast(date '2026-10-31' - cast(hash(range, 'day') % 730 as integer) as date) as journey_date
    from range({n})
),
touches as (
    select j, journey_date, unnest(range(1, n_touches + 1)) as touch_position
    from journeys
),
channeled as (
    select
        *,
        'ch' || lpad(cast(hash(j, touch_position) % {channels} as varchar), 2, '0') as channel
    from touches
),
flagged as (
    select
        *,
        bool_or(channel = 'ch00') over (partition by j) as has_ch00,
        bool_or(channel = 'ch01') over (partition by j) as has_ch01,
        lag(channel) over (partition by j order by touch_position) as previous_channel
    from channeled
)
select
    'bench' as tenant_id,
    -- ids shaped like the real ones (a CRM deal, or a GA-style visitor id and window number)
    case
        when hash(j, 'kind') % 10 = 0 then 'deal:' || cast(20000000000 + j as varchar)
        else 'visitor:' || cast(100000000 + hash(j, 'visitor') % 1900000000 as varchar)
            || '.' || cast(1730000000 + j as varchar) || ':0'
    end as journey_id,
    touch_position,
    coalesce(previous_channel = channel, false) as is_channel_repeat,
    -- base rate 3 %, +6 points with ch00 on the path, +3 with ch01
    hash(j, 'convert') % 1000 < 30 + 60 * cast(has_ch00 as integer) + 30 * cast(has_ch01 as integer)
        as is_converting,
    channel,
    journey_date
from flagged
"""

SYNTHETIC_PERIODS = """
create or replace table intermediate.int_attribution_periods as
select 'bench' as tenant_id, 'full_window' as period, min(journey_date) as period_start,
       max(journey_date) as period_end
from intermediate.int_journey_touches
union all
select 'bench', 'last_90_days', cast(max(journey_date) - 89 as date), max(journey_date)
from intermediate.int_journey_touches
"""


def compiled_transitions_sql(workdir: Path, max_order: int) -> str:
    """The dbt model's SQL as dbt compiles it against a warehouse file named like the bench's."""
    from dbt.cli.main import dbtRunner

    previous = os.environ.get("MOS_WAREHOUSE")
    os.environ["MOS_WAREHOUSE"] = str(workdir / "warehouse.duckdb")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # dbt compile prints the SQL it compiled
            result = dbtRunner().invoke(
                [
                    "compile",
                    "--quiet",
                    "--select",
                    "fct_attribution_transitions",
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR),
                    "--target-path",
                    str(workdir / "target"),
                    "--log-path",
                    str(workdir / "logs"),
                ]
            )
    finally:
        if previous is None:
            os.environ.pop("MOS_WAREHOUSE", None)
        else:
            os.environ["MOS_WAREHOUSE"] = previous
    if not result.success:
        raise RuntimeError(f"dbt compile failed: {result.exception}")
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:  # release the file dbt-duckdb keeps open
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()
    path = workdir / "target" / "compiled" / "marketing_os" / "models" / "marts" / "attribution"
    return (path / "fct_attribution_transitions.sql").read_text()


def bench_markov(n_journeys: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sql_by_order = {k: compiled_transitions_sql(workdir, k) for k in (3, 1)}
        con = duckdb.connect(str(workdir / "warehouse.duckdb"))
        con.execute("set enable_progress_bar = false")
        con.execute("create schema if not exists intermediate")
        con.execute("create schema if not exists marts")
        started = time.perf_counter()
        con.execute(SYNTHETIC_JOURNEYS.format(n=n_journeys, channels=N_CHANNELS))
        con.execute(SYNTHETIC_PERIODS)
        generated = time.perf_counter() - started
        touches, conversions = con.execute(
            "select count(*), count(distinct case when is_converting then journey_id end) "
            "from intermediate.int_journey_touches"
        ).fetchone()
        threads = con.execute("select current_setting('threads')").fetchone()[0]
        print(
            f"synthetic journeys: {n_journeys:,} journeys, {touches:,} touches, {conversions:,} conversions, "
            f"{N_CHANNELS} channels (generated in {generated:.1f} s); DuckDB threads {threads}"
        )
        for max_order, sql in sql_by_order.items():
            sql_times, solve_times, totals, cpu_totals = [], [], [], []
            for _ in range(repeat):
                c0 = time.process_time()  # CPU of every thread of this process (DuckDB's included)
                t0 = time.perf_counter()
                con.execute(f"create or replace table marts.fct_attribution_transitions as {sql}")
                counts = con.sql(
                    "select markov_order, from_state, to_state, transitions "
                    "from marts.fct_attribution_transitions where period = 'full_window'"
                ).pl()
                t1 = time.perf_counter()
                effects = {
                    order: markov_removal_effects(group)
                    for (order,), group in counts.group_by("markov_order", maintain_order=True)
                }
                t2 = time.perf_counter()
                cpu_totals.append(time.process_time() - c0)
                sql_times.append(t1 - t0)
                solve_times.append(t2 - t1)
                totals.append(t2 - t0)
            if max_order > 1:
                states = (
                    counts.group_by("markov_order").agg(pl.col("from_state").n_unique()).sort("markov_order")
                )
                print("states per order: " + ", ".join(f"order {o}: {n}" for o, n in states.iter_rows()))
                first = effects[1]
            print(
                f"Markov end to end, orders 1-{max_order} (SQL counts for 2 periods + exact solves): "
                f"median {statistics.median(totals):.2f} s (SQL {statistics.median(sql_times):.2f} s, "
                f"solves {statistics.median(solve_times):.3f} s) over {repeat} runs; CPU {statistics.median(cpu_totals):.2f} s "
                f"(all threads; on {threads} idle cores the wall time is about CPU / {threads}); "
                f"load average {os.getloadavg()[0]:.1f}"
            )
        con.close()
    top = sorted(zip(first.channels, first.shares, strict=True), key=lambda x: -x[1])[:3]
    print("first-order shares (top 3): " + ", ".join(f"{c} {s:.3f}" for c, s in top))


def bench_shapley(n_channels: int, repeat: int, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    channels = [f"ch{i:02d}" for i in range(n_channels)]
    sets = {
        ",".join(sorted(rng.choice(channels, size=int(rng.integers(1, 6)), replace=False)))
        for _ in range(20_000)
    }
    journeys = rng.integers(10, 5_000, len(sets))
    coalitions = pl.DataFrame(
        {
            "channel_set": sorted(sets),
            "journeys": journeys,
            "conversions": (journeys * rng.uniform(0.01, 0.1, len(sets))).astype(np.int64),
        }
    )
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        shapley_values(coalitions)
        times.append(time.perf_counter() - t0)
    print(
        f"Shapley exact, {n_channels} channels (2^{n_channels} = {2**n_channels:,} coalitions, "
        f"{len(sets):,} observed): median {statistics.median(times) * 1000:.0f} ms over {repeat} runs"
    )


def bench_truth_distance() -> None:
    settings = Settings.from_env()
    if not settings.warehouse.exists():
        print(f"distance to truth: no warehouse at {settings.warehouse} (run `make demo` first)")
        return
    from connectors.sandbox.world import world_dir

    truth_dir = world_dir(settings.sandbox_dir, settings.preset, settings.seed) / "truth"
    true_shares = true_attribution_shares(truth_dir)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        table = con.sql(
            "select tenant_id, model, channel, share from ml.attribution_channel "
            "where (tenant_id, period_start, period_end) in ("
            "  select tenant_id, min(period_start), max(period_end) from ml.attribution_channel group by 1)"
        ).pl()
    print(
        f"distance to the true incremental shares ({settings.preset} world, full window; 0 = exact, 1 = disjoint):"
    )
    for (tenant,), rows in table.group_by("tenant_id", maintain_order=True):
        truth = true_shares[tenant]
        distances = {
            model: total_variation_distance(dict(zip(g["channel"], g["share"], strict=True)), truth)
            for (model,), g in rows.group_by("model", maintain_order=True)
        }
        baseline = distances.get("last_touch")
        print(f"  {tenant} (truth: " + ", ".join(f"{c} {s:.3f}" for c, s in sorted(truth.items())) + ")")
        for model, distance in sorted(distances.items(), key=lambda kv: kv[1]):
            ratio = f"  ({distance / baseline:.2f} x last click)" if baseline else ""
            print(f"    {model:<16} TV {distance:.3f}{ratio}")


def true_attribution_shares(truth_dir: Path) -> dict[str, dict[str, float]]:
    """Per tenant: each channel's caused conversions / all channel-caused conversions."""
    saved = truth_dir / "attribution_shares.parquet"
    if saved.exists():
        frame = pl.read_parquet(saved).select("tenant_id", "channel", "share")
    else:
        frame = (
            pl.read_parquet(truth_dir / "conversions.parquet")
            .filter(pl.col("cause") != "baseline")
            .group_by("tenant_id", pl.col("cause").alias("channel"))
            .len()
            .with_columns((pl.col("len") / pl.col("len").sum().over("tenant_id")).alias("share"))
        )
    out: dict[str, dict[str, float]] = {}
    for tenant, channel, share in frame.select("tenant_id", "channel", "share").iter_rows():
        out.setdefault(tenant, {})[channel] = share
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_markov(args.journeys, args.repeat)
    bench_shapley(15, args.repeat)
    bench_shapley(20, 1)
    bench_truth_distance()


run = main

if __name__ == "__main__":
    main()
