"""The media-mix model's view of a sandbox world, and its truth, for tests and benchmarks.

`warehouse_inputs` builds exactly what the pipeline gives the model from the warehouse, straight from
the world's tables (so pure tests need no dbt run):

- media per (tenant, date, channel): `spend` is `marts.fct_channel_daily.spend` (the world's delivery,
  whose sum per channel-day is `truth/channel_daily.spend` to the cent); `volume` of the owned channels
  (`email`, `organic_social`, spend 0) is `marts.fct_owned_media_daily.volume`, computed here from the
  world's Mailchimp reports and social posts by the mart's rules (`owned_media_volume`): emails
  delivered on the tenant-local send day, an automation's total spread evenly from its start to the
  tenant's last owned-media day, posts' organic reach on their local day. `owned="truth"` takes the
  true daily volume instead (what the response model ran on), `owned="none"` leaves owned media out
  (the model's input before the owned-media mart);
- KPI per (tenant, date): `revenue`, `conversions` are `marts.fct_kpi_daily` (the CRM's closed-won deals
  per tenant-local day), which equal `truth/baseline_daily.total_revenue` / `total_conversions`.

`lift_tests_from_truth` stands in for an experimentation programme: each test measures a channel's
true incremental KPI over a window, with Gaussian measurement error of a stated relative size.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from models_ml.mmm import ChannelParams


def warehouse_inputs(world_dir: Path, owned: str = "warehouse") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(channel_daily, kpi_daily) as `pipelines/assets/ml_mmm.py` reads them from the marts.

    owned: "warehouse" (the owned-media mart's volume), "truth" (the true daily volume) or "none"."""
    if owned not in ("warehouse", "truth", "none"):
        raise ValueError(f"owned must be 'warehouse', 'truth' or 'none', got {owned!r}")
    truth = Path(world_dir) / "truth"
    channel = pl.read_parquet(truth / "channel_daily.parquet")
    paid = channel.group_by("channel").agg(pl.col("spend").sum()).filter(pl.col("spend") > 0)["channel"]
    channel_daily = channel.filter(pl.col("channel").is_in(paid.implode())).select(
        "tenant_id", "date", "channel", pl.col("spend").cast(pl.Float64), pl.lit(0.0).alias("volume")
    )
    if owned == "truth":
        volume = channel.filter(~pl.col("channel").is_in(paid.implode())).select(
            "tenant_id", "date", "channel", pl.lit(0.0).alias("spend"), pl.col("volume").cast(pl.Float64)
        )
        channel_daily = pl.concat([channel_daily, volume])
    elif owned == "warehouse":
        volume = owned_media_volume(world_dir).select(
            "tenant_id", "date", "channel", pl.lit(0.0).alias("spend"), "volume"
        )
        channel_daily = pl.concat([channel_daily, volume])
    kpi_daily = pl.read_parquet(truth / "baseline_daily.parquet").select(
        "tenant_id",
        "date",
        pl.col("total_revenue").cast(pl.Float64).alias("revenue"),
        pl.col("total_conversions").cast(pl.Float64).alias("conversions"),
    )
    return channel_daily, kpi_daily


def owned_media_volume(world_dir: Path) -> pl.DataFrame:
    """tenant_id, date, channel, volume: `marts.fct_owned_media_daily` from the world's own tables."""
    world = Path(world_dir) / "world"
    zones = dict(pl.read_parquet(world / "tenants.parquet").select("tenant_id", "timezone").iter_rows())

    def local_date(frame: pl.DataFrame, column: str) -> pl.DataFrame:
        parts = [
            part.with_columns(
                date=pl.col(column).dt.replace_time_zone("UTC").dt.convert_time_zone(zones[tenant]).dt.date()
            )
            for (tenant,), part in frame.group_by("tenant_id")
        ]
        return pl.concat(parts)

    emails = local_date(pl.read_parquet(world / "email_campaigns.parquet"), "send_time").with_columns(
        delivered=(pl.col("emails_sent") - pl.col("hard_bounces") - pl.col("soft_bounces")).cast(pl.Float64)
    )
    posts = local_date(pl.read_parquet(world / "social_posts.parquet"), "created_at")
    automation = pl.col("type") == "automation"
    data_end = (
        pl.concat([emails.filter(~automation).select("tenant_id", "date"), posts.select("tenant_id", "date")])
        .group_by("tenant_id")
        .agg(last_date=pl.col("date").max())
    )
    spread = (
        emails.filter(automation)
        .join(data_end, on="tenant_id")
        .with_columns(last_date=pl.max_horizontal("date", "last_date"))
        .with_columns(n_days=(pl.col("last_date") - pl.col("date")).dt.total_days() + 1)
        .with_columns(
            date=pl.date_ranges("date", "last_date"), delivered=pl.col("delivered") / pl.col("n_days")
        )
        .explode("date")
    )
    email = pl.concat(
        [
            emails.filter(~automation).select("tenant_id", "date", "delivered"),
            spread.select("tenant_id", "date", "delivered"),
        ]
    )
    return pl.concat(
        [
            email.group_by("tenant_id", "date").agg(
                pl.lit("email").alias("channel"), pl.col("delivered").sum().alias("volume")
            ),
            posts.group_by("tenant_id", "date").agg(
                pl.lit("organic_social").alias("channel"),
                pl.col("reach").cast(pl.Float64).sum().alias("volume"),
            ),
        ]
    ).sort("tenant_id", "date", "channel")


def true_channel(channel_params: pl.DataFrame, tenant: str, channel: str) -> ChannelParams:
    """A paid channel's true response in revenue, from the world's `truth/channel_params` (its beta is
    in conversions at saturation: times the revenue per conversion)."""
    p = channel_params.filter((pl.col("tenant_id") == tenant) & (pl.col("channel") == channel)).row(
        0, named=True
    )
    return ChannelParams(
        channel,
        True,
        p["adstock_decay"],
        p["hill_k"],
        p["hill_alpha"],
        p["beta"] * p["revenue_per_conversion"],
    )


def truth_tables(world_dir: Path) -> dict[str, pl.DataFrame]:
    truth = Path(world_dir) / "truth"
    return {
        name: pl.read_parquet(truth / f"{name}.parquet")
        for name in ("roi", "channel_params", "channel_daily")
    }


def experiments_truth(world_dir: Path) -> pl.DataFrame:
    """truth/lift_tests, or for a world generated before the programme existed, derived as the
    generator would (same seed, same stream)."""
    import json

    from connectors.sandbox.experiments import lift_tests_truth

    path = Path(world_dir) / "truth" / "lift_tests.parquet"
    if path.exists():
        return pl.read_parquet(path)
    meta = json.loads((Path(world_dir) / "meta.json").read_text())
    channel = pl.read_parquet(Path(world_dir) / "truth" / "channel_daily.parquet")
    params = pl.read_parquet(Path(world_dir) / "truth" / "channel_params.parquet")
    return lift_tests_truth(channel, params, int(meta["seed"]))


def lift_tests_from_drops(world_dir: Path, inbox: Path | None = None) -> pl.DataFrame:
    """The world's own experimentation programme as the pipeline sees it: every read-out dropped by
    `connectors.sandbox.experiments` into an inbox, imported by `connectors.imports.lift_tests` (the
    contract's gates included), shaped as `run_mmm(lift_tests=...)` takes it (with the spend scales) -
    what `stg_experiments__lift_tests` feeds the MMM asset."""
    from types import SimpleNamespace

    from connectors.imports import import_lift_test_files
    from connectors.sandbox.experiments import export_lift_tests

    truth = experiments_truth(world_dir)
    inbox = Path(inbox) if inbox is not None else Path(tempfile.mkdtemp(prefix="mos-lift-inbox-"))
    world = SimpleNamespace(truth={"lift_tests": truth})
    paths = export_lift_tests(world, inbox, truth["readout_date"].min(), truth["readout_date"].max())
    frames = []
    for tenant in sorted(truth["tenant_id"].unique()):
        mine = [p for p in paths if p.parent.name == tenant]
        imported = import_lift_test_files(mine, tenant_id=tenant)
        if imported.errors or imported.quarantine.height:
            raise ValueError(f"lift-test drops of {tenant} did not import cleanly: {imported.messages()[:5]}")
        frames.append(imported.rows)
    return pl.concat(frames).select(
        "tenant_id",
        "kpi",
        "channel",
        pl.col("start_date").alias("start"),
        pl.col("end_date").alias("end"),
        "incremental",
        "standard_error",
        "treatment_spend_scale",
        "control_spend_scale",
    )


def lift_tests_from_truth(
    world_dir: Path,
    *,
    tests_per_channel: int = 4,
    window_days: int = 28,
    relative_se: float = 0.15,
    seed: int = 0,
) -> pl.DataFrame:
    """Lift tests on every paid channel: `tests_per_channel` windows of `window_days`, spread evenly over
    the history, each measuring the true incremental revenue and conversions with relative error
    `relative_se` (and saying so in `standard_error`). Columns as `run_mmm(lift_tests=...)` takes."""
    rng = np.random.default_rng(seed)
    channel = pl.read_parquet(Path(world_dir) / "truth" / "channel_daily.parquet")
    paid = channel.group_by("tenant_id", "channel").agg(pl.col("spend").sum()).filter(pl.col("spend") > 0)
    rows = []
    for tenant, name in sorted(paid.select("tenant_id", "channel").iter_rows()):
        series = channel.filter((pl.col("tenant_id") == tenant) & (pl.col("channel") == name)).sort("date")
        first, last = series["date"].min(), series["date"].max()
        span = (last - first).days + 1 - window_days
        for i in range(tests_per_channel):
            start = first + timedelta(days=int((i + 0.5) * span / tests_per_channel))
            end = start + timedelta(days=window_days - 1)
            window = series.filter(pl.col("date").is_between(start, end))
            for kpi, column in (
                ("revenue", "incremental_revenue"),
                ("conversions", "incremental_conversions"),
            ):
                true_value = float(window[column].sum())
                noise = float(rng.normal(0.0, relative_se))
                rows.append(
                    {
                        "tenant_id": tenant,
                        "kpi": kpi,
                        "channel": name,
                        "start": start,
                        "end": end,
                        "incremental": true_value * (1.0 + noise),
                        "standard_error": abs(true_value * (1.0 + noise)) * relative_se,
                    }
                )
    return pl.DataFrame(rows)
