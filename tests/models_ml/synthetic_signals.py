"""Synthetic campaign, ad and lead data with known injected anomalies, fatigue onsets and propensities.

Shared by the tests and ``bench/bench_signals.py``: every generator is seeded and returns its truth.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

START = date(2025, 1, 1)


def campaign_days(
    n_campaigns: int = 24, n_days: int = 240, n_anomalies: int = 30, seed: int = 3
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Campaign-day delivery with weekly patterns, budget steps and injected anomalies.

    Returns (daily, truth). truth: tenant_id, platform, campaign_id, metric, start_date, end_date,
    direction, magnitude (the multiplier applied), like the sandbox's ``truth/anomalies``. Anomalies:
    ``spend`` (spend, impressions and clicks x m, conversions unchanged: pacing gone wrong),
    ``conversions`` (conversions and revenue x m: tracking), ``ctr`` (clicks x m), ``roas`` (revenue
    x m: value tracking), ``cpa`` (spend x m for the same delivery and results: a CPM/bid spike).
    """
    rng = np.random.default_rng(seed)
    rows: list[pl.DataFrame] = []
    truth: list[dict[str, object]] = []
    t = np.arange(n_days)
    dates = [START + timedelta(days=int(i)) for i in t]
    metrics = ("spend", "conversions", "ctr", "roas", "cpa")
    for c in range(n_campaigns):
        tenant = "t1" if c % 2 else "t2"
        campaign = f"{1000 + c}"
        budget = rng.uniform(80, 600)
        # a budget step every 40 days (+-8 %): ordinary management, not an anomaly
        steps = np.exp(np.cumsum(np.where(t % 40 == 39, rng.normal(0, 0.08, n_days), 0.0)))
        weekly = 1.0 + 0.12 * np.sin(2 * np.pi * (t + c) / 7)
        spend = budget * steps * weekly * rng.lognormal(0, 0.05, n_days)
        impressions = rng.poisson(spend / rng.uniform(0.005, 0.02)).astype(float)
        ctr = rng.uniform(0.008, 0.03) * rng.lognormal(0, 0.05, n_days)
        clicks = rng.binomial(impressions.astype(np.int64), np.minimum(ctr, 0.5)).astype(float)
        cvr = rng.uniform(0.03, 0.08)
        conversions = rng.poisson(clicks * cvr).astype(float)
        aov = rng.uniform(40, 120)
        revenue = conversions * aov * rng.lognormal(0, 0.1, n_days)
        rows.append(
            pl.DataFrame(
                {
                    "tenant_id": tenant,
                    "platform": "meta" if c % 3 else "google_ads",
                    "campaign_id": campaign,
                    "date": dates,
                    "spend": spend,
                    "impressions": impressions,
                    "clicks": clicks,
                    "conversions": conversions,
                    "revenue": revenue,
                }
            )
        )
    daily = pl.concat(rows)
    columns = {
        k: daily[k].to_numpy().copy() for k in ("spend", "impressions", "clicks", "conversions", "revenue")
    }
    campaign_ids = daily["campaign_id"].to_numpy()
    day_index = np.tile(t, n_campaigns)
    used: set[tuple[str, int]] = set()
    while len(truth) < n_anomalies:
        c = int(rng.integers(n_campaigns))
        start = int(rng.integers(70, n_days - 5))
        length = int(rng.integers(1, 4))
        campaign = f"{1000 + c}"
        if any((campaign, d) in used for d in range(start - 14, start + length + 14)):
            continue  # keep anomalies apart (each sits outside the others' baselines)
        used.update((campaign, d) for d in range(start, start + length))
        metric = metrics[len(truth) % len(metrics)]
        up = rng.random() < 0.5
        m = float(rng.uniform(1.8, 3.0) if up else rng.uniform(0.2, 0.45))
        sel = (campaign_ids == campaign) & (day_index >= start) & (day_index < start + length)
        if metric == "spend":
            for k in ("spend", "impressions", "clicks"):
                columns[k][sel] = np.round(columns[k][sel] * m)
        elif metric == "conversions":
            columns["conversions"][sel] = np.round(columns["conversions"][sel] * m)
            columns["revenue"][sel] *= m
        elif metric == "ctr":
            columns["clicks"][sel] = np.round(columns["clicks"][sel] * m)
        elif metric == "roas":
            columns["revenue"][sel] *= m
        else:  # cpa x m: the same results cost m times as much
            columns["spend"][sel] *= m
        truth.append(
            {
                "anomaly_id": len(truth) + 1,
                "tenant_id": "t1" if c % 2 else "t2",
                "platform": "meta" if c % 3 else "google_ads",
                "campaign_id": campaign,
                "metric": metric,
                "start_date": START + timedelta(days=start),
                "end_date": START + timedelta(days=start + length - 1),
                "direction": "up" if up else "down",
                "magnitude": m,
            }
        )
    daily = daily.with_columns(**{k: pl.Series(k, v) for k, v in columns.items()})
    return daily, pl.DataFrame(truth)


# What an injected anomaly on one metric moves besides it (ratios of the moved metric).
CONSEQUENCES = {
    "spend": ("cpa", "roas"),
    "conversions": ("cpa", "roas"),
    "cpa": ("spend", "roas"),
    "ctr": (),
    "roas": (),
}


def match_anomalies(
    detected: pl.DataFrame, truth: pl.DataFrame, slack_days: int = 1, *, consequences: bool = False
) -> tuple[float, float]:
    """(precision, recall): a detection matches an injected anomaly on the same campaign and metric
    whose [start - slack, end + slack] contains its date. Precision counts detections, recall anomalies.
    ``consequences``: a detection on a metric the anomaly necessarily moves (``CONSEQUENCES``: a
    spend spike is also a CPA spike) matches too.
    """
    keys = ["tenant_id", "platform", "campaign_id"]
    related = truth.with_columns(
        pl.concat_list(
            pl.col("metric"),
            pl.col("metric").replace_strict(
                {k: list(v) if consequences else [] for k, v in CONSEQUENCES.items()},
                return_dtype=pl.List(pl.String),
            ),
        ).alias("_metric")
    ).explode("_metric")
    pairs = (
        detected.select(*keys, "metric", "date")
        .with_row_index("detection")
        .join(
            related.select(*keys, pl.col("_metric").alias("metric"), "anomaly_id", "start_date", "end_date"),
            on=[*keys, "metric"],
        )
    )
    hits = pairs.filter(
        (pl.col("date") >= pl.col("start_date") - pl.duration(days=slack_days))
        & (pl.col("date") <= pl.col("end_date") + pl.duration(days=slack_days))
    )
    precision = hits["detection"].n_unique() / detected.height if detected.height else float("nan")
    recall = hits["anomaly_id"].n_unique() / truth.height if truth.height else float("nan")
    return precision, recall


def ad_days(n_ads: int = 120, seed: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ad-day delivery; half the ads fatigue from an onset day on (CTR decays to a floor).

    Returns (daily, truth): truth has ad_id, fatigues, onset_day, true_decay (at the ad's last day).
    CTR noise: binomial clicks on a CTR with 10 % daily lognormal noise, as in the sandbox.
    """
    rng = np.random.default_rng(seed)
    frames: list[pl.DataFrame] = []
    truth: list[dict[str, object]] = []
    for ad in range(n_ads):
        days = int(rng.integers(60, 200))
        age = np.arange(days)
        fatigues = ad % 2 == 1
        onset = int(rng.integers(0, days // 2)) if fatigues else days
        floor, halflife = rng.uniform(0.35, 0.6), rng.uniform(10, 30)
        curve = np.where(
            age < onset, 1.0, floor + (1 - floor) * 0.5 ** (np.maximum(age - onset, 0) / halflife)
        )
        impressions = rng.poisson(rng.uniform(500, 3000), days)
        ctr = rng.uniform(0.005, 0.03) * curve * rng.lognormal(0, 0.1, days)
        clicks = rng.binomial(impressions, np.minimum(ctr, 0.5))
        spend = impressions * rng.uniform(0.004, 0.012)
        frames.append(
            pl.DataFrame(
                {
                    "tenant_id": "t1",
                    "platform": "meta",
                    "ad_id": f"{5000 + ad}",
                    "date": [START + timedelta(days=int(a)) for a in age],
                    "impressions": impressions,
                    "clicks": clicks,
                    "spend": spend,
                    "conversions": rng.poisson(clicks * 0.05),
                }
            )
        )
        truth.append(
            {"ad_id": f"{5000 + ad}", "fatigues": fatigues, "onset_day": onset if fatigues else None}
            | {"true_decay": float(1.0 - curve[-1])}
        )
    return pl.concat(frames), pl.DataFrame(truth)


def leads(n: int = 6000, days: int = 365, seed: int = 11) -> tuple[pl.DataFrame, pl.DataFrame, datetime]:
    """Leads whose conversion follows a known logistic propensity of their journey features.

    Returns (leads, truth, as_of): truth has tenant_id, contact_id, propensity.
    """
    rng = np.random.default_rng(seed)
    end = datetime(2026, 10, 31)
    created = end - timedelta(days=days) + np.sort(rng.uniform(0, days, n)) * timedelta(days=1)
    channels = np.array(["meta", "google_ads", "organic_search", "direct", "email"])
    first = rng.choice(channels, n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    last = np.where(rng.random(n) < 0.6, first, rng.choice(channels, n))
    sessions = rng.poisson(2.0, n) + 1
    pages = np.minimum(sessions, rng.poisson(1.5, n) + 1)
    days_to_lead = rng.exponential(5.0, n)
    opt_in = (rng.random(n) < 0.6).astype(float)
    effect = {"meta": -0.3, "google_ads": 0.4, "organic_search": 0.2, "direct": 0.5, "email": 0.8}
    logit = (
        -1.6 + np.vectorize(effect.get)(first) + 0.35 * (sessions - 3) + 0.6 * opt_in - 0.05 * days_to_lead
    )
    propensity = 1.0 / (1.0 + np.exp(-logit))
    converts = rng.random(n) < propensity
    lag = rng.gamma(2.0, 3.0, n)  # days; mean 6
    converted_at = [
        c + timedelta(days=float(g)) if k else None for c, g, k in zip(created, lag, converts, strict=True)
    ]
    converted_at = [c if c is not None and c <= end else None for c in converted_at]  # not yet happened
    tenant = np.where(np.arange(n) % 2 == 0, "t1", "t2")
    contact = [f"{100000 + i}" for i in range(n)]
    frame = pl.DataFrame(
        {
            "tenant_id": tenant,
            "contact_id": contact,
            "created_at": list(created),
            "converted_at": converted_at,
            "first_touch_channel": first,
            "lead_channel": last,
            "lead_form": rng.choice(["/contact", "/newsletter"], n),
            "product_pages_before_lead": rng.binomial(pages, 0.3).astype(float),
            "sessions_before_lead": sessions.astype(float),
            "pages_before_lead": pages.astype(float),
            "paid_sessions_before_lead": rng.binomial(sessions, 0.4).astype(float),
            "days_first_touch_to_lead": days_to_lead,
            "lead_hour": rng.integers(0, 24, n).astype(float),
            "lead_weekday": rng.integers(1, 8, n).astype(float),
            "marketing_opt_in": opt_in,
        },
        schema_overrides={"converted_at": pl.Datetime("us"), "created_at": pl.Datetime("us")},
    )
    truth = pl.DataFrame({"tenant_id": tenant, "contact_id": contact, "propensity": propensity})
    return frame, truth, end
