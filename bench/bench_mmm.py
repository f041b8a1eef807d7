"""Benchmark the media-mix model and the budget optimiser against the sandbox's truth.

On the demo world (generated once into a temporary directory unless --world names one):

- ROI error per tenant and channel vs `truth/roi`, uncalibrated and calibrated with the world's own
  lift tests (the sandbox's experimentation programme, `connectors/sandbox/experiments.py`: per paid
  channel 4 geo/holdout tests of 2-4 weeks, 10 % standard error, and 4 budget-scaling tests at +/-50 %
  of spend), read from the vendor's CSV drops through
  the lift-test importer as the pipeline reads them (`bench/mmm_world.py`), and the median |ROI error|
  of each, next to what the experiments alone say (their measured / true incremental); each with paid
  media only and with the owned media (email, organic social volume from `fct_owned_media_daily`,
  `bench/mmm_world.py`), and the owned channels' modelled vs true share of revenue;
- fit time per tenant and KPI (point fit + out-of-time refit + bootstrap, calibrated), median of --runs;
- the optimiser: plan on the fitted (calibrated) curves evaluated on the TRUE curves, as a share of the
  oracle plan (optimised on the true curves) for several budgets, and the solve time for 2, 10, 30
  channels (median of repeated solves).

    .venv/bin/python -m bench.bench_mmm [--runs 3] [--world data/sandbox/demo-s7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from bench.mmm_world import (
    experiments_truth,
    lift_tests_from_drops,
    true_channel,
    truth_tables,
    warehouse_inputs,
)
from models_ml.budget import ResponseCurve, evaluate_plan, optimise_budget
from models_ml.mmm import (
    MMMConfig,
    _lift_tests_for,
    fit_mmm,
    recent_daily_spend,
    run_mmm,
    steady_state_response,
)


def roi_errors(
    world: Path, calibrated: bool, seed: int, owned: str = "warehouse"
) -> tuple[pl.DataFrame, dict, pl.DataFrame]:
    """(paid channels' ROI vs truth, the fits, owned media's contribution vs truth)."""
    channel_daily, kpi_daily = warehouse_inputs(world, owned)
    lifts = lift_tests_from_drops(world) if calibrated else None
    out = run_mmm(channel_daily, kpi_daily, kpis=("revenue",), config=MMMConfig(seed=seed), lift_tests=lifts)
    revenue = kpi_daily.group_by("tenant_id").agg(total=pl.col("revenue").sum())
    owned_table = (
        out.channel.filter(pl.col("roi").is_null())
        .join(truth_tables(world)["roi"], on=["tenant_id", "channel"])
        .join(revenue, on="tenant_id")
        .select(
            "tenant_id",
            "channel",
            "contribution_share",
            (pl.col("incremental_revenue") / pl.col("total")).alias("true_share"),
            "decay",
            "beta",
        )
    )
    true = truth_tables(world)["roi"].select(
        "tenant_id", "channel", pl.col("roi").alias("true_roi"), pl.col("mroi").alias("true_mroi")
    )
    experiments = (
        experiments_truth(world)
        .filter((pl.col("kpi") == "revenue") & _holdout())  # what the holdouts say of the average ROI
        .group_by("tenant_id", "channel")
        .agg(experiment_error=pl.col("incremental").sum() / pl.col("true_incremental").sum() - 1)
    )
    table = (
        out.channel.filter(pl.col("roi").is_not_null())  # paid channels (non-paid ones have no ROI)
        .join(true, on=["tenant_id", "channel"])
        .join(experiments, on=["tenant_id", "channel"], how="left")
        .with_columns(
            roi_error=pl.col("roi") / pl.col("true_roi") - 1,
            mroi_error=pl.col("mroi") / pl.col("true_mroi") - 1,
            covered=pl.col("true_roi").is_between(pl.col("roi_lower"), pl.col("roi_upper")),
        )
        .select(
            "tenant_id",
            "channel",
            "roi",
            "roi_lower",
            "roi_upper",
            "true_roi",
            "roi_error",
            "mroi",
            "true_mroi",
            "mroi_error",
            "covered",
            "experiment_error",
        )
    )
    return table, out.fits, owned_table


def fit_seconds(world: Path, runs: int) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Median wall seconds and median CPU seconds of one calibrated fit per (tenant, KPI). The fit is
    single-threaded, so on a quiet machine wall ~ CPU; on a shared one CPU is the steadier figure."""
    channel_daily, kpi_daily = warehouse_inputs(world)
    lifts = lift_tests_from_drops(world)
    seconds: dict[tuple[str, str], float] = {}
    cpu: dict[tuple[str, str], float] = {}
    for tenant in sorted(kpi_daily["tenant_id"].unique()):
        media = channel_daily.filter(pl.col("tenant_id") == tenant)
        kpi = kpi_daily.filter(pl.col("tenant_id") == tenant)
        for name in ("revenue", "conversions"):
            tests = _lift_tests_for(lifts, tenant, name)
            times, cpu_times = [], []
            for run in range(runs):
                t0, c0 = time.perf_counter(), time.process_time()
                fit_mmm(media, kpi, name, config=MMMConfig(seed=run), lift_tests=tests)
                times.append(time.perf_counter() - t0)
                cpu_times.append(time.process_time() - c0)
            seconds[(tenant, name)] = statistics.median(times)
            cpu[(tenant, name)] = statistics.median(cpu_times)
    return seconds, cpu


def oracle_shares(world: Path, fits: dict) -> pl.DataFrame:
    """Per tenant and budget (x today's): the revenue, on the TRUE curves, of the plan made on the
    point fit's curves and of the plan on the draws' expected response (the pipeline's default), as a
    share of the oracle plan's (optimised on the true curves)."""
    params = truth_tables(world)["channel_params"]
    rows = []
    for (tenant, _), fit in sorted(fits.items()):
        fitted = [ResponseCurve(p.channel, p.decay, p.k, p.alpha, p.beta) for p in fit.params if p.paid]
        draws = [
            [ResponseCurve(p.channel, p.decay, p.k, p.alpha, p.beta) for p in d if p.paid] for d in fit.draws
        ]
        true = []
        for curve in fitted:
            t = true_channel(params, tenant, curve.channel)
            true.append(ResponseCurve(t.channel, t.decay, t.k, t.alpha, t.beta))
        current = recent_daily_spend(fit)
        today = sum(current[c.channel] for c in fitted)
        for scale in (0.5, 1.0, 1.5, 2.0):
            point = optimise_budget(fitted, current, total_budget=scale * today)
            expected = optimise_budget(fitted, current, total_budget=scale * today, draws=draws)
            oracle = optimise_budget(true, current, total_budget=scale * today)
            best = evaluate_plan(true, oracle.recommended).sum()
            at_today = evaluate_plan(true, np.array([current[c.channel] for c in fitted])).sum()
            rows.append(
                {
                    "tenant_id": tenant,
                    "budget_x_today": scale,
                    "expected_plan_share": evaluate_plan(true, expected.recommended).sum() / best,
                    "point_plan_share": evaluate_plan(true, point.recommended).sum() / best,
                    "today_split_share": at_today / best if scale == 1.0 else None,
                }
            )
    return pl.DataFrame(rows)


def _holdout() -> pl.Expr:
    """A holdout/geo test (the channel's whole contribution), not a budget-scaling test."""
    return (pl.col("treatment_spend_scale") == 1.0) & (pl.col("control_spend_scale") == 0.0)


CALIBRATIONS = ("none", "holdouts", "holdouts+scaling")


def oracle_shares_over_seeds(world: Path, seeds: list[int]) -> pl.DataFrame:
    """`oracle_shares` for MMM fits under several seeds (starts, bootstrap blocks, randomised priors),
    uncalibrated, calibrated with the holdout/geo tests only, and with the budget-scaling tests too
    (the pipeline's default): how much of a plan's quality is the luck of one fit, and what each kind
    of experiment adds."""
    channel_daily, kpi_daily = warehouse_inputs(world)
    lifts = lift_tests_from_drops(world)
    tests = {"none": None, "holdouts": lifts.filter(_holdout()), "holdouts+scaling": lifts}
    frames = []
    for calibration in CALIBRATIONS:
        for seed in seeds:
            out = run_mmm(
                channel_daily,
                kpi_daily,
                kpis=("revenue",),
                config=MMMConfig(seed=seed),
                lift_tests=tests[calibration],
            )
            frames.append(
                oracle_shares(world, out.fits).with_columns(
                    calibration=pl.lit(calibration), mmm_seed=pl.lit(seed)
                )
            )
    order = pl.col("calibration").replace_strict({c: i for i, c in enumerate(CALIBRATIONS)})
    return (
        pl.concat(frames)
        .group_by("calibration", "tenant_id", "budget_x_today")
        .agg(
            expected_min=pl.col("expected_plan_share").min(),
            expected_median=pl.col("expected_plan_share").median(),
            point_min=pl.col("point_plan_share").min(),
            point_median=pl.col("point_plan_share").median(),
        )
        .sort(order, "tenant_id", "budget_x_today")
    )


def response_bands(world: Path, fits: dict) -> pl.DataFrame:
    """Per paid channel: the true steady-state revenue per day at 0.5x and 1x today's spend (last 28
    days) and the draws' 90 % band around it - what the optimiser's expected response rests on."""
    params = truth_tables(world)["channel_params"]
    rows = []
    for (tenant, _), fit in sorted(fits.items()):
        current = recent_daily_spend(fit)
        for j, fitted in enumerate(fit.params):
            if not fitted.paid:
                continue
            true = true_channel(params, tenant, fitted.channel)
            for multiple in (0.5, 1.0):
                spend = np.array([multiple * current[fitted.channel]])
                draws = np.array([steady_state_response(d[j], spend)[0] for d in fit.draws])
                low, high = np.quantile(draws, [0.05, 0.95])
                target = float(steady_state_response(true, spend)[0])
                rows.append(
                    {
                        "tenant_id": tenant,
                        "channel": fitted.channel,
                        "spend_x_today": multiple,
                        "true": target,
                        "point": float(steady_state_response(fitted, spend)[0]),
                        "draws_low": float(low),
                        "draws_high": float(high),
                        "bracketed": bool(low <= target <= high),
                    }
                )
    return pl.DataFrame(rows)


def solve_seconds(n_channels: int, n_draws: int = 0, repeats: int = 20, seed: int = 0) -> float:
    """Median wall seconds of one budget solve (budget 1.2x today, +-50 % per channel) on random curves,
    on the point curves (n_draws 0) or on the mean over `n_draws` perturbed copies of them."""
    rng = np.random.default_rng(seed)
    curves = [
        ResponseCurve(
            f"c{i}",
            rng.uniform(0, 0.8),
            rng.uniform(100, 2000),
            rng.uniform(0.7, 3.0),
            rng.uniform(100, 5000),
        )
        for i in range(n_channels)
    ]
    current = {c.channel: float(rng.uniform(50, 1000)) for c in curves}
    draws = [
        [
            ResponseCurve(
                c.channel,
                float(np.clip(c.decay + rng.normal(0, 0.05), 0, 0.9)),
                c.k * float(rng.lognormal(0, 0.2)),
                c.alpha * float(rng.lognormal(0, 0.1)),
                c.beta * float(rng.lognormal(0, 0.2)),
            )
            for c in curves
        ]
        for _ in range(n_draws)
    ] or None
    optimise_budget(curves, current, draws=draws)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        optimise_budget(
            curves, current, total_budget=1.2 * sum(current.values()), max_change=0.5, draws=draws
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--world", type=Path, default=None, help="an existing demo world directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--plan-seeds",
        default="1,2,3,4,5,6,7,8",
        help="MMM seeds over which the plans' shares of the oracle are summarised ('' to skip)",
    )
    args = parser.parse_args()
    pl.Config.set_tbl_width_chars(160)
    pl.Config.set_tbl_cols(12)
    pl.Config.set_tbl_rows(40)
    pl.Config.set_float_precision(3)

    world = args.world
    if world is None:
        from connectors.sandbox.generator import ensure_world

        world = ensure_world("demo", 7, Path(tempfile.mkdtemp(prefix="bench-mmm-")))
    print(f"world: {world}")

    medians, tables, coverage, bracketed = {}, {}, {}, {}
    for owned in ("none", "warehouse"):
        for calibrated in (False, True):
            table, fits, owned_table = roi_errors(world, calibrated, args.seed, owned)
            tables[(owned, calibrated)] = table
            label = "calibrated with the world's lift tests (vendor drops)" if calibrated else "uncalibrated"
            media = "with owned media (fct_owned_media_daily)" if owned == "warehouse" else "paid media only"
            print(f"\nROI vs truth, {label}, {media}:")
            print(table)
            medians[(owned, calibrated)] = table["roi_error"].abs().median()
            widths = ((table["roi_upper"] - table["roi_lower"]) / table["true_roi"]).median()
            coverage[(owned, calibrated)] = (int(table["covered"].sum()), table.height, widths)
            if owned == "warehouse":
                bands = response_bands(world, fits)
                print(
                    "steady-state revenue per day at 0.5x / 1x today's spend: truth vs the draws' 90 % band"
                )
                print(bands)
                bracketed[calibrated] = {
                    m: int(bands.filter(pl.col("spend_x_today") == m)["bracketed"].sum()) for m in (0.5, 1.0)
                }
            print(
                f"median |ROI error| {medians[(owned, calibrated)]:.1%} "
                f"(max {table['roi_error'].abs().max():.1%}), "
                f"median |mROI error| {table['mroi_error'].abs().median():.1%}, "
                f"truth inside the 90 % interval: {table['covered'].sum()}/{table.height} "
                f"(median width {widths:.2f} x the true ROI)"
                + (
                    f"; the experiments alone: median |error| {table['experiment_error'].abs().median():.1%}"
                    if calibrated
                    else ""
                )
            )
            if owned_table.height:
                print("owned media (no ROI): modelled vs true share of revenue")
                print(owned_table)
    print("\nROI error per channel, paid media only -> with owned media:")
    keys = ["tenant_id", "channel"]
    print(
        tables[("none", False)]
        .select(*keys, pl.col("roi_error").alias("uncal_before"))
        .join(tables[("warehouse", False)].select(*keys, pl.col("roi_error").alias("uncal_after")), on=keys)
        .join(tables[("none", True)].select(*keys, pl.col("roi_error").alias("cal_before")), on=keys)
        .join(tables[("warehouse", True)].select(*keys, pl.col("roi_error").alias("cal_after")), on=keys)
    )
    print("\noptimiser (calibrated curves) evaluated on the true curves, share of the oracle plan:")
    shares = oracle_shares(world, fits)
    print(shares)
    seeds = [int(x) for x in args.plan_seeds.split(",") if x.strip()]
    over_seeds = None
    if seeds:
        over_seeds = oracle_shares_over_seeds(world, seeds)
        print(f"\nthe same over MMM seeds {seeds} (min and median share of the oracle):")
        print(over_seeds)

    print(f"\nload while timing: {_load()}")
    seconds, cpu = fit_seconds(world, args.runs)
    tenants = sorted({t for t, _ in seconds})
    per_tenant = {t: seconds[(t, "revenue")] + seconds[(t, "conversions")] for t in tenants}
    print(
        "fit time (point + out-of-time + 50 bootstrap draws with 2 starts each, calibrated), median of "
        f"{args.runs}: "
        + ", ".join(f"{t}/{k} {s:.2f} s" for (t, k), s in seconds.items())
        + " | per tenant, both KPIs: "
        + ", ".join(f"{t} {s:.2f} s" for t, s in per_tenant.items())
        + " | CPU per fit: "
        + ", ".join(f"{t}/{k} {s:.2f} s" for (t, k), s in cpu.items())
        + " | CPU per tenant, both KPIs: "
        + ", ".join(f"{t} {cpu[(t, 'revenue')] + cpu[(t, 'conversions')]:.2f} s" for t in tenants)
    )
    solve = {(n, d): solve_seconds(n, d) for n in (4, 10, 30) for d in (0, 50)}
    for (n, d), s in solve.items():
        basis = f"mean over {d} draws" if d else "point curves"
        print(f"optimiser solve, {n} channels, {basis}: median {s * 1000:.1f} ms")
    print(f"load after timing: {_load()}")
    print(
        "\nSUMMARY  median |ROI err| uncalibrated "
        f"{medians[('warehouse', False)]:.1%} (paid media only {medians[('none', False)]:.1%}), calibrated "
        f"{medians[('warehouse', True)]:.1%} (paid media only {medians[('none', True)]:.1%}) (target <= 10 %); "
        f"fit per tenant and KPI median {statistics.median(seconds.values()):.2f} s wall, "
        f"{statistics.median(cpu.values()):.2f} s CPU; per tenant (both KPIs) max "
        f"{max(per_tenant.values()):.2f} s wall (target <= 5 s); "
        "90 % ROI intervals (with owned media) cover "
        + ", ".join(
            f"{'calibrated' if cal else 'uncalibrated'} {c[0]}/{c[1]} (median width {c[2]:.2f} x true ROI)"
            for (o, cal), c in sorted(coverage.items())
            if o == "warehouse"
        )
        + "; draws' band holds the true response at 0.5x / 1x spend: "
        + ", ".join(
            f"{'calibrated' if cal else 'uncalibrated'} {b[0.5]} / {b[1.0]} of 8"
            for cal, b in sorted(bracketed.items())
        )
        + "; "
        f"optimiser worst share of oracle (calibrated, seed {args.seed}) expected-response plan "
        f"{shares['expected_plan_share'].min():.1%}, point plan {shares['point_plan_share'].min():.1%}"
        + (
            f", over {len(seeds)} MMM seeds expected / point: "
            + ", ".join(
                f"{c} {worst['expected_min'].min():.1%} / {worst['point_min'].min():.1%}"
                for c in CALIBRATIONS
                for worst in [over_seeds.filter(pl.col("calibration") == c)]
            )
            if over_seeds is not None
            else ""
        )
        + " (target >= 98 %), "
        f"solve 30 channels {solve[(30, 0)] * 1000:.1f} ms on the point curves, "
        f"{solve[(30, 50)] * 1000:.1f} ms on 50 draws (target <= 100 ms)"
    )


def _load() -> str:
    import os

    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
