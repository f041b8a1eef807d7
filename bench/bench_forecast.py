"""Benchmark ``models_ml.forecast.forecast_channel_metrics`` on demo-size synthetic data.

Demo size: 2 tenants x 6 channels x 3 metrics x 730 days (36 series). Prints the median wall and CPU
time of several runs, the share of the statsmodels final refits, the models chosen and the backtest
MASE (model MAE / seasonal-naive MAE) per model.

    .venv/bin/python bench/bench_forecast.py [--runs 5] [--days 730]

On a shared machine wall times swing with other load; the CPU time is the steadier number. scipy >= 1.15
runs L-BFGS-B (statsmodels' optimiser) through BLAS: a multi-threaded OpenBLAS can cost several times
the CPU on these tiny problems, so the environment's ``OPENBLAS_NUM_THREADS`` is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from datetime import date, timedelta

import numpy as np
import polars as pl

import models_ml.forecast as forecast_module
from models_ml.forecast import forecast_channel_metrics

CHANNELS = ("meta", "google_ads", "email", "organic_search", "direct", "referral")
PAID = {"meta", "google_ads"}


def synthetic_channel_daily(n_tenants: int = 2, n_days: int = 730, seed: int = 7) -> pl.DataFrame:
    """fct_channel_daily-like frame: trend, weekly seasonality, noise, counts; organic spend is zero."""
    rng = np.random.default_rng(seed)
    end = date(2026, 10, 31)
    dates = [end - timedelta(days=n_days - 1 - i) for i in range(n_days)]
    t = np.arange(n_days)
    frames: list[pl.DataFrame] = []
    for tenant in ("northwind", "bellavista", "tenant3", "tenant4")[:n_tenants]:
        for channel in CHANNELS:
            dow = 1.0 + rng.uniform(0.1, 0.35) * np.sin(2 * np.pi * (t + rng.integers(7)) / 7)
            growth = np.exp(rng.normal(0.0, 0.4) * t / n_days)
            wander = np.exp(np.cumsum(rng.normal(0.0, 0.01, n_days)))
            base = rng.uniform(5, 200) * dow * growth * wander
            if channel in PAID:
                spend = np.round(base * 40 * rng.lognormal(0.0, 0.1, n_days), 2)
            else:
                spend = np.zeros(n_days)
            conversions = rng.poisson(base).astype(np.float64)
            revenue = np.round(conversions * rng.lognormal(np.log(60.0), 0.2, n_days), 2)
            frames.append(
                pl.DataFrame(
                    {
                        "tenant_id": tenant,
                        "channel": channel,
                        "date": dates,
                        "spend": spend,
                        "conversions": conversions,
                        "revenue": revenue,
                    }
                )
            )
    return pl.concat(frames)


def statsmodels_seconds_per_fit(daily: pl.DataFrame, n_fits: int, use_brute: bool) -> float:
    """Median seconds of one statsmodels ExponentialSmoothing(A, Ad, A) fit on the same windows."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    ys = [
        part["conversions"].to_numpy()[-364:]
        for part in daily.sort("date").partition_by("tenant_id", "channel", maintain_order=True)
    ][:n_fits]
    times: list[float] = []
    for y in ys:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter, local to this block
            ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=7).fit(
                use_brute=use_brute
            )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def statsmodels_refit_seconds(daily: pl.DataFrame) -> tuple[float, int]:
    """Wall seconds spent in the statsmodels final refits during one call, and how many there were."""
    inner = forecast_module._statsmodels_forecast
    spent: list[float] = []

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    forecast_module._statsmodels_forecast = timed
    try:
        forecast_channel_metrics(daily)
    finally:
        forecast_module._statsmodels_forecast = inner
    return sum(spent), len(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--tenants", type=int, default=2)
    parser.add_argument("--no-statsmodels", action="store_true", help="skip the statsmodels reference")
    args = parser.parse_args()

    daily = synthetic_channel_daily(args.tenants, args.days)
    n_series = daily.select("tenant_id", "channel").unique().height * 3
    forecast_channel_metrics(daily)  # warm-up (imports, allocator)
    times: list[float] = []
    cpu_times: list[float] = []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = forecast_channel_metrics(daily)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    print(f"input: {daily.height} rows, {n_series} series x {args.days} days")
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, {os.cpu_count()} CPUs")
    print(
        f"forecast_channel_metrics: median {statistics.median(times):.3f} s over {args.runs} runs "
        f"(min {min(times):.3f}, max {max(times):.3f}); CPU median {statistics.median(cpu_times):.3f} s"
    )
    n_fits = int(
        result.backtest.filter(pl.col("model") != "seasonal_naive")
        .select(pl.col("n_origins") + 1)
        .sum()
        .item()
    )
    print(f"numpy-engine ETS fits per call: {n_fits} (origins + final, per candidate)")
    refit_s, n_refits = statsmodels_refit_seconds(daily)
    n_fallback = (
        result.forecasts.filter(pl.col("model").str.ends_with("_numpy_fallback"))
        .select("tenant_id", "channel", "metric")
        .unique()
        .height
    )
    print(
        f"statsmodels ETSModel final refits per call: {n_refits} ({refit_s:.3f} s wall in one call), "
        f"numpy fallbacks: {n_fallback}"
    )
    if not args.no_statsmodels:
        median = statistics.median(times)
        for brute in (False, True):
            per_fit = statsmodels_seconds_per_fit(daily, 8, use_brute=brute)
            total = per_fit * n_fits
            print(
                f"reference, same process: statsmodels ExponentialSmoothing.fit(use_brute={brute}) "
                f"{per_fit * 1000:.1f} ms/fit -> ~{total:.1f} s for {n_fits} backtest fits "
                f"({total / median:.0f}x this call)"
            )
    chosen = (
        result.forecasts.select("tenant_id", "channel", "metric", "model")
        .unique()
        .group_by("metric", "model")
        .agg(pl.len().alias("series"))
    )
    print("chosen models (series per metric):")
    print(chosen.sort("metric", "model"))
    # What the forecasts shipped score: the chosen model's backtest MASE per series (seasonal naive,
    # where chosen, scores 1 by definition - it is the baseline).
    picked = (
        result.forecasts.select("tenant_id", "channel", "metric", "model")
        .unique()
        .join(result.backtest, on=["tenant_id", "channel", "metric", "model"], how="left")
        .with_columns(pl.when(pl.col("model") == "seasonal_naive").then(1.0).otherwise("mase").alias("mase"))
    )
    print(
        "chosen model's backtest MASE, median over series: "
        + ", ".join(
            f"{m} {part['mase'].median():.3f} ({part.height})"
            for (m,), part in sorted(picked.group_by("metric"))
        )
        + f"; all {picked['mase'].median():.3f} ({picked.height} series)"
    )
    bt = result.backtest.filter(pl.col("mase").is_not_null() & (pl.col("model") != "seasonal_naive"))
    print("backtest MASE (model MAE / seasonal-naive MAE, 4 origins x 28 days) per candidate:")
    print(
        bt.group_by("metric", "model")
        .agg(
            pl.len().alias("series"),
            pl.col("mase").median().alias("median_mase"),
            pl.col("mase").min().alias("min_mase"),
            pl.col("mase").max().alias("max_mase"),
        )
        .sort("metric", "model")
    )


if __name__ == "__main__":
    main()
