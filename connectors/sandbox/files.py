"""File drops from the sandbox world: daily touchpoint exports and the FX table.

A tenant's web analytics export lands as one file per local day (tenant time zone):
    <inbox>/touchpoints/<tenant_id>/<YYYY-MM-DD>.parquet | .ndjson
Northwind drops Parquet, Bellavista NDJSON (so both importer paths run). Files are written atomically
(temporary file + os.replace) and are byte-for-byte reproducible: rows sorted by (event_ts, event_id),
Parquet without statistics, NDJSON timestamps as ISO 8601 UTC with microseconds and a `Z`.
A day without events still gets a file (Parquet: schema only; NDJSON: zero bytes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

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
