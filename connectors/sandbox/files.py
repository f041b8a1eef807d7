"""File drops from the sandbox world: daily touchpoint exports, the FX table, and weekly drops of
offline conversions, erasure requests and an exported ad report (see "Weekly drops" below).

A tenant's web analytics export lands as one file per local day (tenant time zone):
    <inbox>/touchpoints/<tenant_id>/<YYYY-MM-DD>.parquet | .ndjson
Northwind drops Parquet, Bellavista NDJSON (so both importer paths run). Files are written atomically
(temporary file + os.replace) and are byte-for-byte reproducible: rows sorted by (event_ts, event_id),
Parquet without statistics, NDJSON timestamps as ISO 8601 UTC with microseconds and a `Z`.
A day without events still gets a file (Parquet: schema only; NDJSON: zero bytes).

Weekly drops (one file per tenant every Saturday, `DROP_WEEKDAY`, holding the tenant-local week Sunday
to Saturday; the world ends on a Saturday, so its last week is dropped too):
    <inbox>/offline_conversions/<tenant_id>/<YYYY-MM-DD>.csv | .parquet   point-of-sale export
    <inbox>/erasure_requests/<tenant_id>/<YYYY-MM-DD>.csv                 privacy desk export
    <inbox>/ad_reports/<tenant_id>/linkedin_campaign_manager_<YYYY-MM-DD>.csv
Offline conversions: Northwind CSV, Bellavista Parquet. The ad report is what a LinkedIn Campaign
Manager user without API access exports (creative x day, five report lines above the header), in the
tenant's locale: Bellavista German (`;`, decimal comma, `1.234,56`, dd.mm.yyyy, German headers, UTF-8
with BOM), Northwind US (`,`, `1,234.56` quoted, mm/dd/yyyy). It is made from the world's `linkedin`
delivery, or from `meta`'s while the world has no LinkedIn (its ids then are Meta's, which is what keeps
dbt from counting it twice: see int_ad_performance_unioned). Mappings: config/imports/*.yml.
Offline conversions and erasure requests come from the world's tables of those names, or, for a world
generated without them, from `crm_extras.add_crm_extras` on its CRM (seeded by the world's seed).
"""

from __future__ import annotations

import io
import os
import weakref
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from connectors.sandbox.api.common import as_utc_naive

Format = Literal["parquet", "ndjson"]
FORMATS: tuple[str, ...] = ("parquet", "ndjson")
DEFAULT_FORMATS: dict[str, Format] = {"northwind": "parquet", "bellavista": "ndjson"}
TOUCHPOINT_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "event_id",
    "anonymous_id",
    "event_ts",
    "event_type",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "landing_page",
)


def default_format(tenant_id: str) -> Format:
    return DEFAULT_FORMATS.get(tenant_id, "parquet")


def touchpoint_drop_path(inbox: Path, tenant_id: str, day: date, fmt: Format) -> Path:
    return Path(inbox) / "touchpoints" / tenant_id / f"{day.isoformat()}.{fmt}"


def export_touchpoints(
    state_or_world: Any, tenant_id: str, day: date, inbox: Path, fmt: Format | None = None
) -> Path:
    """Write one tenant's touchpoints of one local day as a drop file; returns its path."""
    world = _world(state_or_world)
    fmt = fmt or default_format(tenant_id)
    frame = _with_local_day(world, tenant_id).filter(pl.col("_day") == day)
    return _write_drop(frame.drop("_day"), touchpoint_drop_path(inbox, tenant_id, day, fmt), fmt)


def export_touchpoint_range(
    state_or_world: Any,
    inbox: Path,
    start: date,
    end: date,
    tenants: Iterable[str] | None = None,
    fmt: Format | None = None,
) -> list[Path]:
    """Drop files for every tenant and local day in [start, end] (one pass over the table per tenant)."""
    world = _world(state_or_world)
    tenant_ids = list(tenants) if tenants is not None else sorted(world.tenants["tenant_id"].to_list())
    paths: list[Path] = []
    for tenant_id in tenant_ids:
        tenant_fmt = fmt or default_format(tenant_id)
        rows = _with_local_day(world, tenant_id).filter(pl.col("_day").is_between(start, end))
        if tenant_fmt == "ndjson":  # format the timestamps once for the whole range, not once per file
            rows = rows.with_columns(event_ts=_ndjson_ts(rows.schema["event_ts"]))
        parts = rows.partition_by("_day", as_dict=True, include_key=False)
        by_day = {key[0]: part for key, part in parts.items()}
        empty = rows.clear().drop("_day")
        day = start
        while day <= end:
            frame = by_day.get(day, empty)
            path = touchpoint_drop_path(inbox, tenant_id, day, tenant_fmt)
            paths.append(_write_drop(frame, path, tenant_fmt, ts_formatted=tenant_fmt == "ndjson"))
            day += timedelta(days=1)
    return paths


def export_fx_rates(state_or_world: Any, path: Path) -> Path:
    """The world's daily FX table as CSV (date, currency, rate_to_usd), sorted, written atomically."""
    world = _world(state_or_world)
    frame = world.fx_rates.select("date", "currency", "rate_to_usd").sort("date", "currency")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    frame.write_csv(tmp)
    os.replace(tmp, path)
    return path


# ---- weekly drops: offline conversions, erasure requests, exported ad reports ----------------------

DROP_WEEKDAY = 5  # Saturday (date.weekday())
OFFLINE_FORMATS: dict[str, Literal["csv", "parquet"]] = {"northwind": "csv", "bellavista": "parquet"}
REPORT_LOCALES: dict[str, Literal["de", "us"]] = {"bellavista": "de", "northwind": "us"}
REPORT_PREFIX = "linkedin_campaign_manager_"
STREAM_CRM_EXTRAS = 9  # rng stream for worlds generated without the CRM extras


def drop_days(start: date, end: date) -> list[date]:
    """The drop days (Saturdays) in [start, end]."""
    first = start + timedelta(days=(DROP_WEEKDAY - start.weekday()) % 7)
    return [first + timedelta(days=7 * k) for k in range(max(0, (end - first).days // 7 + 1))]


def offline_conversions_drop_path(inbox: Path, tenant_id: str, day: date, fmt: str | None = None) -> Path:
    fmt = fmt or OFFLINE_FORMATS.get(tenant_id, "csv")
    return Path(inbox) / "offline_conversions" / tenant_id / f"{day.isoformat()}.{fmt}"


def erasure_requests_drop_path(inbox: Path, tenant_id: str, day: date) -> Path:
    return Path(inbox) / "erasure_requests" / tenant_id / f"{day.isoformat()}.csv"


def ad_report_drop_path(inbox: Path, tenant_id: str, day: date) -> Path:
    return Path(inbox) / "ad_reports" / tenant_id / f"{REPORT_PREFIX}{day.isoformat()}.csv"


_EXTRAS: dict[int, tuple[Any, dict[str, pl.DataFrame]]] = {}


def crm_extra_tables(state_or_world: Any) -> dict[str, pl.DataFrame]:
    """The world's `offline_conversions` and `erasure_requests` (derived once per world if absent)."""
    world = _world(state_or_world)
    if all(hasattr(world, name) for name in ("offline_conversions", "erasure_requests")):
        return {"offline_conversions": world.offline_conversions, "erasure_requests": world.erasure_requests}
    cached = _EXTRAS.get(id(world))
    if cached is not None and cached[0]() is world:
        return cached[1]
    from connectors.sandbox.crm_extras import add_crm_extras

    currencies = dict(zip(world.tenants["tenant_id"], world.tenants["currency"], strict=True))
    _, _, tables = add_crm_extras(
        world.contacts,
        world.deals,
        world.truth["conversions"],
        world.meta.end_date,
        np.random.default_rng([world.meta.seed, STREAM_CRM_EXTRAS]),
        currencies=currencies,
    )
    _EXTRAS[id(world)] = (weakref.ref(world), tables)
    return tables


def export_offline_conversions(
    state_or_world: Any,
    inbox: Path,
    start: date,
    end: date,
    tenants: Iterable[str] | None = None,
    fmt: Literal["csv", "parquet"] | None = None,
) -> list[Path]:
    """One file per tenant and drop day in [start, end]: the week's store and phone purchases."""
    world = _world(state_or_world)
    table = crm_extra_tables(world)["offline_conversions"]
    paths = []
    for tenant_id in _tenant_ids(world, tenants):
        rows = _local_week(table, world, tenant_id, "conversion_ts").sort("conversion_ts", "order_id")
        for day in drop_days(start, end):
            week = rows.filter(pl.col("_drop") == day).drop("_drop")
            path = offline_conversions_drop_path(inbox, tenant_id, day, fmt)
            if path.suffix == ".parquet":
                frame = week.drop("tenant_id").with_columns(
                    pl.col("conversion_ts").dt.replace_time_zone("UTC"),
                    pl.col("value").cast(pl.Decimal(18, 2)),
                )
                paths.append(_write_frame(frame, path, "parquet"))
            else:
                frame = week.drop("tenant_id").with_columns(
                    pl.col("conversion_ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    pl.col("value").map_batches(lambda s: _fixed2(s), return_dtype=pl.String),
                )
                paths.append(_write_frame(frame, path, "csv"))
    return paths


def export_erasure_requests(
    state_or_world: Any, inbox: Path, start: date, end: date, tenants: Iterable[str] | None = None
) -> list[Path]:
    """One CSV per tenant and drop day in [start, end] (header only in a week without requests)."""
    world = _world(state_or_world)
    table = crm_extra_tables(world)["erasure_requests"]
    paths = []
    for tenant_id in _tenant_ids(world, tenants):
        rows = _local_week(table, world, tenant_id, "requested_at").sort("requested_at", "request_id")
        for day in drop_days(start, end):
            week = rows.filter(pl.col("_drop") == day).select(
                "request_id", "contact_id", "email", pl.col("requested_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            )
            paths.append(_write_frame(week, erasure_requests_drop_path(inbox, tenant_id, day), "csv"))
    return paths


_REPORT_HEADERS = {
    "us": (
        "Start Date",
        "Account ID",
        "Campaign Group ID",
        "Campaign Group Name",
        "Campaign ID",
        "Campaign Name",
        "Creative ID",
        "Currency",
        "Total Spent",
        "Impressions",
        "Clicks",
        "Conversions",
        "Total Conversion Value",
    ),
    "de": (
        "Startdatum",
        "Konto-ID",
        "Kampagnengruppen-ID",
        "Kampagnengruppenname",
        "Kampagnen-ID",
        "Kampagnenname",
        "Creative-ID",
        "Währung",
        "Ausgegebener Gesamtbetrag",
        "Impressionen",
        "Klicks",
        "Conversions",
        "Gesamtwert der Conversions",
    ),
}
_REPORT_LOCALE = {
    "us": {"sep": ",", "decimal": ".", "thousands": ",", "date": "%m/%d/%Y", "bom": False},
    "de": {"sep": ";", "decimal": ",", "thousands": ".", "date": "%d.%m.%Y", "bom": True},
}
_REPORT_PREAMBLE = {
    "us": (
        "Creative Performance Report",
        "Report Start: {start}",
        "Report End: {end}",
        "Date Generated: {made}",
        "Account: {account}",
    ),
    "de": (
        "Leistungsbericht für Creatives",
        "Berichtsbeginn: {start}",
        "Berichtsende: {end}",
        "Erstellt am: {made}",
        "Konto: {account}",
    ),
}
REPORT_SKIP_ROWS = 5


def report_source_platform(state_or_world: Any) -> str:
    """`linkedin` when the world has LinkedIn delivery, else `meta` (its rows stand in for LinkedIn's)."""
    world = _world(state_or_world)
    return "linkedin" if world.delivery.filter(pl.col("platform") == "linkedin").height else "meta"


def export_ad_reports(
    state_or_world: Any,
    inbox: Path,
    start: date,
    end: date,
    tenants: Iterable[str] | None = None,
    platform: str | None = None,
) -> list[Path]:
    """One Campaign Manager-style CSV per tenant and drop day in [start, end]: creative x day rows of
    the week (account-local dates), in the tenant's locale (`REPORT_LOCALES`)."""
    world = _world(state_or_world)
    platform = platform or report_source_platform(world)
    delivery = world.delivery.filter(pl.col("platform") == platform)
    campaigns = world.campaigns.filter(pl.col("platform") == platform).select(
        "tenant_id", "campaign_id", "campaign_name"
    )
    ad_groups = world.ad_groups.filter(pl.col("platform") == platform).select(
        "tenant_id", "ad_group_id", "ad_group_name"
    )
    accounts = world.accounts.filter(pl.col("platform") == platform)
    paths = []
    for tenant_id in _tenant_ids(world, tenants):
        style = REPORT_LOCALES.get(tenant_id, "us")
        loc = _REPORT_LOCALE[style]
        account = accounts.filter(pl.col("tenant_id") == tenant_id)
        currency = account["currency"][0] if account.height else ""
        account_name = account["name"][0] if account.height else ""
        rows = (
            delivery.filter(pl.col("tenant_id") == tenant_id)
            .join(campaigns, on=["tenant_id", "campaign_id"], how="left")
            .join(ad_groups, on=["tenant_id", "ad_group_id"], how="left")
            .with_columns(_drop=_drop_day_expr(pl.col("date")))
            .sort("date", "campaign_id", "ad_group_id", "ad_id")
        )
        for day in drop_days(start, end):
            week = rows.filter(pl.col("_drop") == day)
            frame = week.select(
                pl.col("date").dt.strftime(loc["date"]),
                "account_id",
                "campaign_id",
                "campaign_name",
                "ad_group_id",
                "ad_group_name",
                "ad_id",
                pl.lit(currency).alias("currency"),
                _grouped_cents(pl.col("spend_micros") // 10_000, loc).alias("spend"),
                _grouped_int(pl.col("impressions"), loc["thousands"]).alias("impressions"),
                _grouped_int(pl.col("clicks"), loc["thousands"]).alias("clicks"),
                _grouped_cents((pl.col("platform_conversions") * 100).round().cast(pl.Int64), loc).alias(
                    "conv"
                ),
                _grouped_cents((pl.col("platform_conversion_value") * 100).round().cast(pl.Int64), loc).alias(
                    "value"
                ),
            )
            frame.columns = list(_REPORT_HEADERS[style])
            first = day - timedelta(days=6)
            preamble = "\n".join(_REPORT_PREAMBLE[style]).format(
                start=first.strftime(loc["date"]),
                end=day.strftime(loc["date"]),
                made=(day + timedelta(days=1)).strftime(loc["date"]),
                account=account_name,
            )
            buffer = io.BytesIO()
            frame.write_csv(buffer, separator=loc["sep"])
            data = (preamble + "\n").encode() + buffer.getvalue()
            if loc["bom"]:
                data = b"\xef\xbb\xbf" + data
            paths.append(_write_bytes(data, ad_report_drop_path(inbox, tenant_id, day)))
    return paths


def export_weekly_drops(
    state_or_world: Any, inbox: Path, start: date, end: date, tenants: Iterable[str] | None = None
) -> list[Path]:
    """Every weekly drop (offline conversions, erasure requests, ad reports) in [start, end]."""
    return [
        *export_offline_conversions(state_or_world, inbox, start, end, tenants),
        *export_erasure_requests(state_or_world, inbox, start, end, tenants),
        *export_ad_reports(state_or_world, inbox, start, end, tenants),
    ]


def _tenant_ids(world: Any, tenants: Iterable[str] | None) -> list[str]:
    return list(tenants) if tenants is not None else sorted(world.tenants["tenant_id"].to_list())


def _drop_day_expr(day: pl.Expr) -> pl.Expr:
    """The Saturday on or after `day` (polars weekday: Monday=1 .. Saturday=6, Sunday=7)."""
    return day + pl.duration(days=(6 - day.dt.weekday()) % 7)


def _local_week(table: pl.DataFrame, world: Any, tenant_id: str, ts: str) -> pl.DataFrame:
    zone = world.tenants.filter(pl.col("tenant_id") == tenant_id)["timezone"][0]
    local = pl.col(ts).dt.replace_time_zone("UTC").dt.convert_time_zone(zone).dt.date()
    return table.filter(pl.col("tenant_id") == tenant_id).with_columns(_drop=_drop_day_expr(local))


def _fixed2(values: pl.Series) -> pl.Series:
    cents = (values * 100).round().cast(pl.Int64)
    return pl.select(pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))).to_series()


def _grouped_int(value: pl.Expr, sep: str) -> pl.Expr:
    """1234567 -> '1,234,567' (sep ',') without a Python loop: reverse, cut in threes, join, reverse."""
    return value.cast(pl.String).str.reverse().str.extract_all(r"\d{1,3}").list.join(sep).str.reverse()


def _grouped_cents(cents: pl.Expr, loc: dict[str, Any]) -> pl.Expr:
    return pl.format(
        "{}{}{}",
        _grouped_int(cents // 100, loc["thousands"]),
        pl.lit(loc["decimal"]),
        (cents % 100).cast(pl.String).str.zfill(2),
    )


def _write_frame(frame: pl.DataFrame, path: Path, fmt: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    if fmt == "parquet":
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)
    else:
        frame.write_csv(tmp)
    os.replace(tmp, path)
    return path


def _write_bytes(data: bytes, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


# ---- internals -------------------------------------------------------------------------------------


def _world(state_or_world: Any) -> Any:
    return state_or_world.world if hasattr(state_or_world, "world") else state_or_world


def _with_local_day(world: Any, tenant_id: str) -> pl.DataFrame:
    tenants = world.tenants.filter(pl.col("tenant_id") == tenant_id)
    if tenants.height == 0:
        known = ", ".join(sorted(world.tenants["tenant_id"].to_list()))
        raise ValueError(f"unknown tenant {tenant_id!r} (known: {known})")
    zone = tenants["timezone"][0]
    touchpoints = world.touchpoints
    utc = as_utc_naive(pl.col("event_ts"), touchpoints.schema["event_ts"]).dt.replace_time_zone("UTC")
    return (
        touchpoints.filter(pl.col("tenant_id") == tenant_id)
        .select(*TOUCHPOINT_COLUMNS)
        .with_columns(_day=utc.dt.convert_time_zone(zone).dt.date())
        .sort("event_ts", "event_id")
    )


def _ndjson_ts(dtype: pl.DataType) -> pl.Expr:
    """event_ts as NDJSON drops write it: ISO 8601 UTC with microseconds and a `Z`."""
    return as_utc_naive(pl.col("event_ts"), dtype).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")


def _write_drop(frame: pl.DataFrame, path: Path, fmt: Format, *, ts_formatted: bool = False) -> Path:
    if fmt not in FORMATS:
        raise ValueError(f"unknown touchpoint format {fmt!r}; expected one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    if fmt == "parquet":
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)
    elif ts_formatted:
        frame.write_ndjson(tmp)
    else:
        frame.with_columns(event_ts=_ndjson_ts(frame.schema["event_ts"])).write_ndjson(tmp)
    os.replace(tmp, path)
    return path


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")
