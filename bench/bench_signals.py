"""Benchmark and score the signal models on the demo sandbox world (and on synthetic injections).

Prints anomaly precision/recall (sandbox truth and synthetic), fatigue detection rates, lead-scoring
AUC (and the true propensity's AUC, the ceiling), campaign-forecast MASE, and median fit times.

    .venv/bin/python bench/bench_signals.py [--runs 3] [--preset demo] [--seed 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl

from models_ml.anomalies import detect_anomalies
from models_ml.fatigue import detect_fatigue
from models_ml.forecast import forecast_campaign_metrics
from models_ml.lead_scoring import score_leads
from models_ml.signal_eval import DECAY_BANDS, fatigue_rates, match_anomaly_alerts, match_anomaly_truth


def timed(fn: Callable[[], Any], runs: int) -> tuple[Any, float]:
    """(last result, median wall seconds over ``runs`` calls)."""
    times: list[float] = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def campaign_daily(world) -> pl.DataFrame:
    return world.delivery.group_by("tenant_id", "platform", "campaign_id", "date").agg(
        (pl.col("spend_micros").sum() / 1e6).alias("spend"),
        pl.col("impressions").sum().cast(pl.Float64),
        pl.col("clicks").sum().cast(pl.Float64),
        pl.col("platform_conversions").sum().alias("conversions"),
        pl.col("platform_conversion_value").sum().alias("revenue"),
    )


def lead_frame(world):
    from pipelines.assets.ml_signals import lead_features_sql

    con = duckdb.connect()
    con.register(
        "contacts",
        world.contacts.rename(
            {"lead_date": "became_lead_at", "customer_date": "became_customer_at"}
        ).with_columns(pl.lit(False).alias("is_archived")),
    )
    touchpoints = world.touchpoints.with_columns(
        pl.coalesce(pl.col("utm_medium"), pl.lit("(none)")).alias("channel"),
        pl.col("event_ts").alias("event_ts_local"),
    )
    con.register("touchpoints", touchpoints)
    has_opt_in = "marketing_opt_in" in world.contacts.columns
    return con.sql(lead_features_sql("contacts", "touchpoints", has_opt_in=has_opt_in)).pl(), touchpoints[
        "event_ts"
    ].max()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from connectors.sandbox.generator import generate_world
    from models_ml.anomalies import AnomalySettings
    from tests.models_ml.synthetic_signals import ad_days, campaign_days, match_anomalies

    world = generate_world(args.preset, args.seed)
    daily = campaign_daily(world)
    print(f"world {args.preset}-s{args.seed}: {daily.height} campaign-days, {world.delivery.height} ad-days")

    # anomalies
    truth = world.truth.get("anomalies")
    budgets = world.truth.get("campaign_budgets")
    detected, t = timed(lambda: detect_anomalies(daily, budgets=budgets), args.runs)
    _, t_blind = timed(lambda: detect_anomalies(daily), args.runs)
    if truth is not None and truth.height:
        meta_only = budgets.filter(pl.col("platform") == "meta") if budgets is not None else None
        for label, det in (
            ("with budgets", detected),
            ("with Meta's budget log only, as the pipeline", detect_anomalies(daily, budgets=meta_only)),
            ("without budgets", detect_anomalies(daily)),
        ):
            m = match_anomaly_truth(det, truth)
            a = match_anomaly_alerts(det, truth)
            print(
                f"anomalies {label} (sandbox truth, {truth['anomaly_id'].n_unique()} incidents / "
                f"{truth.height} metric rows): {m.detections} rows, precision {m.precision:.2f}, recall "
                f"{m.recall_rows:.2f} (rows), {m.recall_incidents:.2f} (incidents); {a.alerts} alerts, "
                f"alert precision {a.precision:.2f}, recall by kind "
                + ", ".join(f"{k} {v:.2f}" for k, v in a.recall_by_kind.items())
            )
        print(f"  median {t:.3f} s with budgets, {t_blind:.3f} s without")
    sdaily, struth = campaign_days()
    sdet = detect_anomalies(sdaily)
    p_strict, r_strict = match_anomalies(sdet, struth)
    p_rel, r_rel = match_anomalies(sdet, struth, consequences=True)
    print(
        f"anomalies (synthetic, {struth.height} injected): precision {p_rel:.2f} recall {r_rel:.2f} "
        f"(ratio consequences count); strict same-metric {p_strict:.2f} / {r_strict:.2f}"
    )
    for option in (dict(run_days=1), dict(persist_days=1), dict(level_days=7)):
        m3 = match_anomaly_truth(detect_anomalies(daily, AnomalySettings(**option), budgets), truth)
        print(f"  option {option}: sandbox precision {m3.precision:.2f}, incidents {m3.recall_incidents:.2f}")

    # fatigue
    ads = world.delivery.with_columns(
        (pl.col("spend_micros") / 1e6).alias("spend"), pl.col("platform_conversions").alias("conversions")
    )
    fatigue, t = timed(lambda: detect_fatigue(ads), args.runs)
    if "fatigues" in world.truth["ad_params"].columns:
        rates = fatigue_rates(fatigue, world.truth["ad_params"])
        print(
            f"fatigue (sandbox truth): {fatigue.height} ads scored; false positives "
            f"{rates['false_positive_rate']:.3f} of {rates['n_stable']:.0f} stable; detected "
            f"{rates['detection_rate']:.2f} of {rates['n_fatiguing']:.0f} fatiguing, "
            f"{rates['detection_rate_worn']:.2f} of {rates['n_worn']:.0f} with true decay >= 0.3; median {t:.3f} s"
        )
        print(
            "  detected by true decay band: "
            + ", ".join(
                f"[{low:g}, {high:g}) {rates[f'detection_rate_band_{low:g}_{high:g}']:.2f} "
                f"of {rates[f'n_band_{low:g}_{high:g}']:.0f}"
                for low, high in DECAY_BANDS
            )
        )
        print(
            f"  onset error of the detected (days, estimated - true): median {rates['onset_error_median']:+.1f}, "
            f"median abs {rates['onset_error_median_abs']:.1f}, p90 abs {rates['onset_error_p90_abs']:.1f}; "
            f"decay error median abs {rates['decay_error_median_abs']:.3f}"
        )
    sads, sftruth = ad_days()
    sf = detect_fatigue(sads).join(sftruth, on="ad_id")
    rates = dict(sf.group_by("fatigues").agg(pl.col("fatigued").mean()).iter_rows())
    print(f"fatigue (synthetic): detected {rates[True]:.2f} of fatiguing, {rates[False]:.2f} of stable")

    # lead scoring
    leads, as_of = lead_frame(world)
    result, t = timed(lambda: score_leads(leads, as_of), args.runs)
    prop = world.truth.get("lead_propensity")
    for row in result.model.iter_rows(named=True):
        ceiling = float("nan")
        if prop is not None and row["status"] == "ok":
            window = pl.duration(days=row["label_window_days"])
            test = (
                leads.filter(
                    (pl.col("tenant_id") == row["tenant_id"])
                    & (pl.col("created_at") > row["cutoff"])
                    & (pl.col("created_at") <= pl.lit(as_of) - window)
                )
                .join(prop, on=["tenant_id", "contact_id"])
                .with_columns(
                    (
                        pl.col("converted_at").is_not_null()
                        & (pl.col("converted_at") - pl.col("created_at") <= window)
                    ).alias("label")
                )
            )
            ceiling = roc_auc_score(test["label"].to_numpy(), test["propensity"].to_numpy())
        print(
            f"lead scoring {row['tenant_id']}: {row['status']}, test n {row['n_test']}, AUC {row['auc']:.3f} "
            f"(true propensity {ceiling:.3f}), top-decile lift {row['lift_top_decile']:.2f}, "
            f"Brier {row['brier']:.3f}"
        )
    print(f"lead scoring: {leads.height} leads, median {t:.2f} s (train + calibrate + score, both tenants)")

    # campaign forecasts
    fc, t = timed(lambda: forecast_campaign_metrics(daily, top_n=5), args.runs)
    chosen = fc.forecasts.select("tenant_id", "channel", "campaign_id", "metric", "model").unique()
    picked = fc.backtest.join(chosen, on=["tenant_id", "channel", "campaign_id", "metric", "model"])
    print(
        f"campaign forecast (top 5 per tenant, {chosen.height} series): median backtest MASE of the chosen "
        f"models {picked['mase'].fill_null(1.0).median():.3f}; median {t:.2f} s"
    )
    print(
        fc.backtest.filter(pl.col("model") != "seasonal_naive")
        .group_by("model")
        .agg(pl.len().alias("series"), pl.col("mase").median().alias("median_mase"))
        .sort("model")
    )
    print(chosen.group_by("model").len().sort("model"))


if __name__ == "__main__":
    main()
