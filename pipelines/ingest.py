"""Ingest mechanics shared by every source, free of Dagster: validate, tag, replace slices, log.

An ingest asset fetches a tenant's rows for a window of days, then `load_daily_slices` validates them
against the source's contract, sends failures to `ops.quarantine` with their reason, and replaces each
(tenant, source, day) slice in one transaction. A re-run of the same window replaces, never appends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from connectors.contracts import validate
from pipelines.warehouse import (
    LoadMeta,
    log_load,
    merge_on_keys,
    quarantine_frame,
    raw_columns,
    replace_slices,
    with_load_meta,
)


@dataclass
class LoadOutcome:
    source: str
    tenant_id: str
    partitions: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    pages: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def merge(self, other: LoadOutcome) -> None:
        self.partitions += other.partitions
        self.rows_loaded += other.rows_loaded
        self.rows_quarantined += other.rows_quarantined
        self.pages += other.pages
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n


def day_range(start: date, end: date) -> list[date]:
    """Inclusive list of days."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def chunked(days: Sequence[date], size: int) -> Iterator[tuple[date, date]]:
    """Consecutive (first, last) windows of at most `size` days: bounded requests for long backfills."""
    for i in range(0, len(days), size):
        window = days[i : i + size]
        yield window[0], window[-1]


def conform(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Order and select the raw table's columns; a missing column is a contract error, named."""
    wanted = raw_columns(table)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(f"raw.{table}: the parser returned no column(s) {missing}")
    return frame.select(wanted)


def _reason_counts(quarantine: pl.DataFrame) -> dict[str, int]:
    if quarantine.height == 0:
        return {}
    counts = quarantine.group_by("reason").len().sort("reason")
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))


@dataclass
class _Checked:
    """A batch after its contract: good rows with load metadata, and quarantine rows."""

    meta: LoadMeta
    good: pl.DataFrame
    quarantined: pl.DataFrame
    reasons: dict[str, int]


def _check(
    frame: pl.DataFrame,
    *,
    table: str,
    source: str,
    tenant_id: str,
    partition: pl.Expr | str,
    run_id: str,
    source_ref: str,
    as_of: date | None = None,
) -> _Checked:
    meta = LoadMeta.now(run_id, source)
    result = validate(conform(frame, table), table, as_of=as_of)
    return _Checked(
        meta=meta,
        good=with_load_meta(result.good, meta, partition=partition, source_ref=source_ref),
        quarantined=quarantine_frame(
            result.quarantine,
            tenant_id=tenant_id,
            source=source,
            partition=partition,
            meta=meta,
            source_ref=source_ref,
        ),
        reasons=_reason_counts(result.quarantine),
    )


def _log_and_report(
    con: duckdb.DuckDBPyConnection,
    checked: _Checked,
    *,
    tenant_id: str,
    label: str,
    partitions: int,
    loaded: int,
    pages: int,
) -> LoadOutcome:
    quarantined = checked.quarantined.height
    log_load(
        con,
        [
            {
                "run_id": checked.meta.run_id,
                "tenant_id": tenant_id,
                "source": checked.meta.source,
                "partition": label,
                "rows_loaded": loaded,
                "rows_quarantined": quarantined,
                "pages": pages,
                "status": "ok" if quarantined == 0 else "ok_with_quarantine",
                "detail": None,
                "started_at": checked.meta.loaded_at,
                "finished_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )
    return LoadOutcome(
        checked.meta.source,
        tenant_id,
        partitions=partitions,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        pages=pages,
        reasons=checked.reasons,
    )


def load_daily_slices(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    source: str,
    tenant_id: str,
    days: Sequence[date],
    frame: pl.DataFrame,
    partition: pl.Expr,
    run_id: str,
    source_ref: str,
    pages: int = 0,
    as_of: date | None = None,
) -> LoadOutcome:
    """Validate `frame` and replace raw.<table> for (tenant, each day in `days`) in one transaction.

    `partition` computes each row's day (e.g. `pl.col("date_start")`); rows are validated, then
    every day of `days` is replaced, including days that came back empty.
    """
    checked = _check(
        frame,
        table=table,
        source=source,
        tenant_id=tenant_id,
        partition=partition,
        run_id=run_id,
        source_ref=source_ref,
        as_of=as_of,
    )
    partitions = [d.isoformat() for d in days]
    loaded = replace_slices(
        con,
        table,
        checked.good,
        tenant_id=tenant_id,
        partitions=partitions,
        source=source,
        quarantine=checked.quarantined,
    )
    label = f"{partitions[0]}..{partitions[-1]}" if partitions else ""
    return _log_and_report(
        con, checked, tenant_id=tenant_id, label=label, partitions=len(partitions), loaded=loaded, pages=pages
    )


def load_snapshot(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    source: str,
    tenant_id: str,
    frame: pl.DataFrame,
    snapshot_day: date,
    run_id: str,
    source_ref: str,
    pages: int = 0,
) -> LoadOutcome:
    """Entity snapshots (campaigns, ad sets, ads): the tenant's current state replaces its previous one."""
    checked = _check(
        frame,
        table=table,
        source=source,
        tenant_id=tenant_id,
        partition="current",
        run_id=run_id,
        source_ref=source_ref,
    )
    loaded = replace_slices(
        con,
        table,
        checked.good,
        tenant_id=tenant_id,
        partitions=["current"],
        source=source,
        quarantine=checked.quarantined,
    )
    return _log_and_report(
        con,
        checked,
        tenant_id=tenant_id,
        label=snapshot_day.isoformat(),
        partitions=1,
        loaded=loaded,
        pages=pages,
    )


def merge_records(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    source: str,
    tenant_id: str,
    frame: pl.DataFrame,
    run_id: str,
    source_ref: str,
    cursor_label: str,
    pages: int = 0,
) -> LoadOutcome:
    """Incremental CRM records: upsert on (tenant_id, id); quarantine what breaks the contract.

    A record's partition is the day it was last modified, so fetching the same version again
    (overlapping cursor windows, a re-run) writes the very same row.
    """
    checked = _check(
        frame,
        table=table,
        source=source,
        tenant_id=tenant_id,
        partition=pl.col("lastmodifieddate").dt.date(),
        run_id=run_id,
        source_ref=source_ref,
    )
    loaded = merge_on_keys(con, table, checked.good, ["tenant_id", "id"], quarantine=checked.quarantined)
    return _log_and_report(
        con, checked, tenant_id=tenant_id, label=cursor_label, partitions=1, loaded=loaded, pages=pages
    )


def merge_keyed(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    source: str,
    tenant_id: str,
    frame: pl.DataFrame,
    keys: Sequence[str],
    partition: pl.Expr,
    run_id: str,
    source_ref: str,
    cursor_label: str,
    pages: int = 0,
    as_of: date | None = None,
) -> LoadOutcome:
    """Records that change in place after they first appear (email reports, posts, mentions): upsert
    on `keys`; `partition` names each row's day (its send or creation day), so reading the same
    version again writes the very same row."""
    checked = _check(
        frame,
        table=table,
        source=source,
        tenant_id=tenant_id,
        partition=partition,
        run_id=run_id,
        source_ref=source_ref,
        as_of=as_of,
    )
    loaded = merge_on_keys(con, table, checked.good, list(keys), quarantine=checked.quarantined)
    return _log_and_report(
        con, checked, tenant_id=tenant_id, label=cursor_label, partitions=1, loaded=loaded, pages=pages
    )
