"""A small but realistic serving snapshot (docs/INTERFACES.md §6) for dashboard tests and demos.

Two tenants (northwind in USD, bellavista in EUR), 60 days of three channels (meta, google_ads and
email, which has no spend), campaigns, 28-day forecasts with intervals, backtests (one model that does
not beat its baseline) and decisions in every status. Money columns are DECIMAL as the warehouse
stores them, so the dashboards meet the same types as in production.

Also runnable, to point a real `streamlit run` at a snapshot without running the pipeline:

    python -m tests.dashboards.snapshot_fixture /tmp/mos-snapshot.duckdb
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

END = date(2026, 10, 31)
DAYS = 60
HORIZON = 28
TENANTS = pd.DataFrame(
    {
        "tenant_id": ["northwind", "bellavista"],
        "name": ["Northwind Outfitters", "Bella Vista Home"],
        "currency": ["USD", "EUR"],
        "timezone": ["America/New_York", "Europe/Berlin"],
    }
)
EUR_TO_USD = 1.08
# channel -> (daily spend, CPC, conversion rate, revenue per conversion, platform over-claim)
CHANNELS = {
    "meta": (1_200.0, 0.85, 0.030, 95.0, 1.55),
    "google_ads": (900.0, 1.40, 0.045, 110.0, 1.20),
    "email": (0.0, 0.0, 0.060, 80.0, 1.0),
}
TENANT_SCALE = {"northwind": 1.0, "bellavista": 0.45}

DDL = {
    "tenants": "tenant_id varchar, name varchar, currency varchar, timezone varchar",
    "channel_daily": (
        "tenant_id varchar, date date, channel varchar, currency varchar, spend decimal(18,2),"
        " spend_usd decimal(18,2), impressions bigint, clicks bigint, platform_conversions double,"
        " platform_conversion_value decimal(18,2), attributed_conversions double,"
        " attributed_revenue decimal(18,2), roas double, platform_roas double"
    ),
    "campaign_daily": (
        "tenant_id varchar, date date, platform varchar, campaign_id varchar, campaign_name varchar,"
        " currency varchar, spend decimal(18,2), impressions bigint, clicks bigint,"
        " platform_conversions double, platform_conversion_value decimal(18,2)"
    ),
    "forecast_channel_daily": (
        "tenant_id varchar, channel varchar, metric varchar, date date, yhat double, yhat_lower double,"
        " yhat_upper double, interval_level double, model varchar, trained_through date"
    ),
    "forecast_backtest": (
        "tenant_id varchar, channel varchar, metric varchar, model varchar, mase double,"
        " baseline_mae double, model_mae double, n_origins integer, horizon integer"
    ),
    "decisions": (
        "decision_id varchar, run_id varchar, tenant_id varchar, platform varchar, action varchar,"
        " entity_type varchar, entity_id varchar, campaign_id varchar, reason varchar, evidence varchar,"
        " expected_impact varchar, policy varchar, policy_version varchar, dry_run boolean,"
        " status varchar, created_at timestamp, applied_at timestamp"
    ),
    "snapshot_info": "published_at timestamp, run_id varchar, warehouse_path varchar",
}
TABLES = tuple(DDL)


def _channel_daily(rng: np.random.Generator) -> pd.DataFrame:
    dates = pd.date_range(END - timedelta(days=DAYS - 1), END, freq="D")
    weekly = 1.0 + 0.15 * np.sin(2 * np.pi * dates.day_of_week.to_numpy() / 7)
    trend = np.linspace(0.9, 1.1, len(dates))
    frames = []
    for tenant, currency in zip(TENANTS.tenant_id, TENANTS.currency, strict=True):
        scale = TENANT_SCALE[tenant]
        for channel, (spend0, cpc, cvr, rpc, overclaim) in CHANNELS.items():
            noise = rng.lognormal(0.0, 0.08, len(dates))
            spend = np.round(spend0 * scale * weekly * trend * noise, 2)
            if channel == "email":
                clicks = np.round(300 * scale * weekly * noise).astype("int64")
                impressions = clicks * 25
            else:
                clicks = np.round(spend / cpc).astype("int64")
                impressions = clicks * rng.integers(40, 70, len(dates))
            attributed_conv = np.round(clicks * cvr * rng.lognormal(0.0, 0.15, len(dates)), 1)
            attributed_rev = np.round(attributed_conv * rpc, 2)
            platform_conv = np.round(attributed_conv * overclaim) if channel != "email" else 0.0 * spend
            platform_val = np.round(attributed_rev * overclaim, 2) if channel != "email" else 0.0 * spend
            fx = EUR_TO_USD if currency == "EUR" else 1.0
            with np.errstate(divide="ignore", invalid="ignore"):
                roas = np.where(spend > 0, attributed_rev / spend, np.nan)
                platform_roas = np.where(spend > 0, platform_val / spend, np.nan)
            frames.append(
                pd.DataFrame(
                    {
                        "tenant_id": tenant,
                        "date": dates.date,
                        "channel": channel,
                        "currency": currency,
                        "spend": spend,
                        "spend_usd": np.round(spend * fx, 2),
                        "impressions": impressions,
                        "clicks": clicks,
                        "platform_conversions": platform_conv,
                        "platform_conversion_value": platform_val,
                        "attributed_conversions": attributed_conv,
                        "attributed_revenue": attributed_rev,
                        "roas": roas,
                        "platform_roas": platform_roas,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _campaign_daily(channel_daily: pd.DataFrame) -> pd.DataFrame:
    names = {"meta": ["Prospecting - Broad", "Retargeting - 30d"], "google_ads": ["Search - Brand", "PMax"]}
    rows = []
    paid = channel_daily[channel_daily.channel.isin(names)]
    for k, ((tenant, channel), part) in enumerate(paid.groupby(["tenant_id", "channel"], sort=True)):
        for i, (name, share) in enumerate(zip(names[channel], (0.65, 0.35), strict=True)):
            rows.append(
                pd.DataFrame(
                    {
                        "tenant_id": tenant,
                        "date": part.date,
                        "platform": channel,
                        "campaign_id": f"{23850000 + 10 * k + i}",
                        "campaign_name": name,
                        "currency": part.currency,
                        "spend": (part.spend * share).round(2),
                        "impressions": (part.impressions * share).round().astype("int64"),
                        "clicks": (part.clicks * share).round().astype("int64"),
                        "platform_conversions": (part.platform_conversions * share).round(),
                        "platform_conversion_value": (part.platform_conversion_value * share).round(2),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def _forecasts(channel_daily: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    actual = {"spend": "spend", "conversions": "attributed_conversions", "revenue": "attributed_revenue"}
    future = pd.date_range(END + timedelta(days=1), periods=HORIZON, freq="D")
    steps = np.arange(1, HORIZON + 1)
    forecasts, backtests = [], []
    for (tenant, channel), part in channel_daily.groupby(["tenant_id", "channel"], sort=True):
        for metric, column in actual.items():
            level = float(part[column].tail(28).mean())
            if level == 0:
                continue  # no forecast for a metric the channel never has (email spend)
            width = level * (0.12 + 0.01 * steps)
            weekly = 1.0 + 0.1 * np.sin(2 * np.pi * future.day_of_week.to_numpy() / 7)
            yhat = level * weekly
            forecasts.append(
                pd.DataFrame(
                    {
                        "tenant_id": tenant,
                        "channel": channel,
                        "metric": metric,
                        "date": future.date,
                        "yhat": yhat,
                        "yhat_lower": np.maximum(yhat - width, 0.0),
                        "yhat_upper": yhat + width,
                        "interval_level": 0.8,
                        "model": "ets",
                        "trained_through": END,
                    }
                )
            )
            baseline_mae = level * 0.2
            mase = 1.08 if (channel, metric) == ("email", "conversions") else 0.74
            backtests.append(
                {
                    "tenant_id": tenant,
                    "channel": channel,
                    "metric": metric,
                    "model": "ets",
                    "mase": mase,
                    "baseline_mae": baseline_mae,
                    "model_mae": baseline_mae * mase,
                    "n_origins": 6,
                    "horizon": HORIZON,
                }
            )
    return pd.concat(forecasts, ignore_index=True), pd.DataFrame(backtests)


def _decisions() -> pd.DataFrame:
    base = datetime(2026, 11, 1, 6, 0)
    specs = [
        ("pause", "ad", "CPA 2.4x target over 14 days", "proposed", "-310/week spend"),
        ("budget_change", "campaign", "ROAS above target with headroom", "proposed", "+1,200 revenue/week"),
        ("creative_refresh", "ad", "CTR down 38% over 21 days (fatigue)", "proposed", "+0.4 pp CTR"),
        ("pause", "ad", "No conversions in 21 days", "applied", "-95/week spend"),
        ("resume", "campaign", "Paused campaign still has demand", "skipped", "n/a"),
    ]
    rows = []
    for tenant in TENANTS.tenant_id:
        for i, (action, entity_type, reason, status, impact) in enumerate(specs):
            platform = "meta" if i % 2 == 0 else "google_ads"
            created = base - timedelta(days=i)
            rows.append(
                {
                    "decision_id": f"{tenant[:2]}-{i:04d}-{action}",
                    "run_id": f"run-{created:%Y%m%d}",
                    "tenant_id": tenant,
                    "platform": platform,
                    "action": action,
                    "entity_type": entity_type,
                    "entity_id": f"{120000 + i}",
                    "campaign_id": f"{9000 + i}",
                    "reason": reason,
                    "evidence": json.dumps({"window_days": 14, "cpa": 41.2 + i, "target_cpa": 17.0}),
                    "expected_impact": impact,
                    "policy": "cpa_guard" if action == "pause" else "roas_rebalance",
                    "policy_version": "1.2.0",
                    "dry_run": status != "applied",
                    "status": status,
                    "created_at": created,
                    "applied_at": created + timedelta(minutes=5) if status == "applied" else None,
                }
            )
    return pd.DataFrame(rows)


def build_tables(seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    channel_daily = _channel_daily(rng)
    forecast, backtest = _forecasts(channel_daily)
    return {
        "tenants": TENANTS,
        "channel_daily": channel_daily,
        "campaign_daily": _campaign_daily(channel_daily),
        "forecast_channel_daily": forecast,
        "forecast_backtest": backtest,
        "decisions": _decisions(),
        "snapshot_info": pd.DataFrame(
            {
                "published_at": [datetime(2026, 11, 1, 6, 30)],
                "run_id": ["run-20261101"],
                "warehouse_path": ["data/warehouse.duckdb"],
            }
        ),
    }


def write_snapshot(path: Path, *, seed: int = 7, skip: Iterable[str] = ()) -> Path:
    """Write the snapshot to `path` (replacing it), leaving out the tables named in `skip`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    tables = build_tables(seed)
    con = duckdb.connect(str(path))
    try:
        for name, frame in tables.items():
            if name in skip:
                continue
            con.execute(f"create table {name} ({DDL[name]})")
            con.register("frame", frame)
            columns = ", ".join(frame.columns)
            con.execute(f"insert into {name} ({columns}) select {columns} from frame")
            con.unregister("frame")
        con.execute("checkpoint")
    finally:
        con.close()
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data/serving/snapshot.duckdb")
    print(write_snapshot(target))
