"""Ingest mechanics shared by every source, free of Dagster: validate, tag, replace slices, log.

An ingest asset fetches a tenant's rows for a window of days, then `load_daily_slices` validates them
against the source's contract, sends failures to `ops.quarantine` with their reason, and replaces each
(tenant, source, day) slice in one transaction. A re-run of the same window replaces, never appends.

What real APIs do to a load is counted, never silent: rows repeated across pages are de-duplicated
(exact repeats dropped and counted; the same key with other values quarantined by the contract), rows a
parser marked (a required field absent, a number that reads two ways) go to `ops.quarantine` with the
parser's reason, and schema drift the connector reported lands in `ops.schema_drift`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from connectors.contracts import QUARANTINE_SCHEMA, validate
from connectors.drift import QUARANTINE_FIELD, QUARANTINE_REASON, DriftEvent
from pipelines.warehouse import (
    LoadMeta,
    log_load,
    merge_on_keys,
    quarantine_frame,
    raw_columns,
    record_drift,
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
    duplicates: int = 0  # rows repeated across pages, dropped (exact repeats)
    drift: list[str] = field(default_factory=list)  # "kind column" the platform's answers showed
    failed: list[str] = field(default_factory=list)  # windows that failed: "<partition>: <error>"

    def merge(self, other: LoadOutcome) -> None:
        self.partitions += other.partitions
        self.rows_loaded += other.rows_loaded
        self.rows_quarantined += other.rows_quarantined
        self.pages += other.pages
        self.duplicates += other.duplicates
        self.drift.extend(d for d in other.drift if d not in self.drift)
        self.failed.extend(other.failed)
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
    duplicates: int = 0


def split_marked(frame: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows a parser marked for quarantine (connectors.drift) -> (the rest, quarantine records)."""
    if QUARANTINE_REASON not in frame.columns:
        return frame, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    marked = pl.col(QUARANTINE_REASON).is_not_null()
    bad = frame.filter(marked)
    rest = frame.filter(~marked).drop(QUARANTINE_FIELD, QUARANTINE_REASON)
    records = conform(bad.drop(QUARANTINE_FIELD, QUARANTINE_REASON), table)
    quarantine = pl.DataFrame(
        {
            "record": [json.dumps(r, default=str, sort_keys=True) for r in records.to_dicts()],
            "field": bad[QUARANTINE_FIELD],
            "reason": bad[QUARANTINE_REASON],
        },
        schema=QUARANTINE_SCHEMA,
    )
    return rest, quarantine


def drop_exact_duplicates(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Rows repeated verbatim (a page repeating the previous page's rows) -> one copy, and how many
    copies were dropped. Rows sharing a key with other values are left to the contract."""
    if frame.height == 0:
        return frame, 0
    unique = frame.unique(maintain_order=True)
    return unique, frame.height - unique.height


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
    frame, marked = split_marked(frame, table)
    frame, duplicates = drop_exact_duplicates(conform(frame, table))
    result = validate(frame, table, as_of=as_of)
    failures = pl.concat([marked, result.quarantine]) if marked.height else result.quarantine
    return _Checked(
        meta=meta,
        good=with_load_meta(result.good, meta, partition=partition, source_ref=source_ref),
        quarantined=quarantine_frame(
            failures,
            tenant_id=tenant_id,
            source=source,
            partition=partition,
            meta=meta,
            source_ref=source_ref,
        ),
        reasons=_reason_counts(failures),
        duplicates=duplicates,
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
    drift: Sequence[DriftEvent] = (),
    duplicates: int = 0,
) -> LoadOutcome:
    quarantined = checked.quarantined.height
    duplicates += checked.duplicates
    meta = checked.meta
    record_drift(  # re-loading the slice reports its drift afresh (replaced, not appended)
        con,
        [
            {
                "tenant_id": tenant_id,
                "source": meta.source,
                "partition": label,
                "kind": event.kind,
                "column_name": event.column,
                "detail": event.detail,
                "_source": None,
                "_run_id": meta.run_id,
                "_loaded_at": meta.loaded_at,
            }
            for event in drift
        ],
        tenant_id=tenant_id,
        source=meta.source,
        partition=label,
    )
    notes = [f"{duplicates} repeated row(s) dropped"] if duplicates else []
    notes += [f"schema drift: {e.kind} {e.column}" for e in drift]
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
                "detail": "; ".join(notes) or None,
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
        duplicates=duplicates,
        drift=[f"{e.kind} {e.column}" for e in drift],
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
    drift: Sequence[DriftEvent] = (),
    duplicates: int = 0,
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
        con,
        checked,
        tenant_id=tenant_id,
        label=label,
        partitions=len(partitions),
        loaded=loaded,
        pages=pages,
        drift=drift,
        duplicates=duplicates,
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
    drift: Sequence[DriftEvent] = (),
    duplicates: int = 0,
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
        drift=drift,
        duplicates=duplicates,
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
    drift: Sequence[DriftEvent] = (),
    duplicates: int = 0,
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
    loaded = merge_on_keys(
        con,
        table,
        checked.good,
        ["tenant_id", "id"],
        quarantine=checked.quarantined,
        quarantine_source=source,
    )
    return _log_and_report(
        con,
        checked,
        tenant_id=tenant_id,
        label=cursor_label,
        partitions=1,
        loaded=loaded,
        pages=pages,
        drift=drift,
        duplicates=duplicates,
    )


def log_failed_load(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    tenant_id: str,
    source: str,
    label: str,
    error: BaseException,
    started_at: datetime,
) -> None:
    """A window that could not be fetched or loaded: logged loudly; its slice keeps its previous rows."""
    log_load(
        con,
        [
            {
                "run_id": run_id,
                "tenant_id": tenant_id,
                "source": source,
                "partition": label,
                "rows_loaded": 0,
                "rows_quarantined": 0,
                "pages": 0,
                "status": "failed",
                "detail": f"{type(error).__name__}: {error}"[:2000],
                "started_at": started_at,
                "finished_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ],
    )


def window_with_lookback(
    days: Sequence[date], *, newest: date, lookback_days: int, earliest: date | None = None
) -> list[date]:
    """The days a run re-pulls: its own, plus the `lookback_days` ending at `newest` when the run
    reaches the newest day (platforms restate recent days; a backfill of old days does not widen)."""
    if not days or days[-1] < newest or lookback_days <= 1:
        return list(days)
    first = min(days[0], newest - timedelta(days=lookback_days - 1))
    if earliest is not None:
        first = max(first, earliest)
    return day_range(first, days[-1])


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
    drift: Sequence[DriftEvent] = (),
    duplicates: int = 0,
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
        con,
        checked,
        tenant_id=tenant_id,
        label=cursor_label,
        partitions=1,
        loaded=loaded,
        pages=pages,
        drift=drift,
        duplicates=duplicates,
    )
