"""Offline conversions (store and phone purchases) from point-of-sale drops -> raw.offline_conversions.

A drop is CSV or Parquet (by suffix) with the columns order_id, contact_id, email, conversion_ts, value,
currency, location (the sandbox writes them as `<inbox>/offline_conversions/<tenant>/<drop day>.csv`).
contact_id and email are optional per row (a walk-in buyer may have neither); order_id, conversion_ts,
value and currency are required. Emails are trimmed, lower-cased and SHA-256 hashed on import
(`email_sha256`); the address itself is never kept. See `connectors.imports.core` for the gates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from connectors.imports.core import (
    DEFAULT_LOCALE,
    DEFAULT_READ,
    ColumnSpec,
    FileImport,
    Locale,
    ReadOptions,
    as_of_for,
    convert_columns,
    finish_file,
    import_files,
    read_rows,
)

TABLE = "offline_conversions"
SPECS: dict[str, ColumnSpec] = {
    "order_id": ColumnSpec("string", "order_id", required=True),
    "email_sha256": ColumnSpec("email_sha256", "email", output="email_sha256"),
    "contact_id": ColumnSpec("string", "contact_id"),
    "conversion_ts": ColumnSpec("timestamp", "conversion_ts", required=True),
    "value": ColumnSpec("money", "value", required=True),
    "currency": ColumnSpec("string", "currency", required=True),
    "location": ColumnSpec("string", "location"),
}
REQUIRED_COLUMNS = ("order_id", "conversion_ts", "value", "currency")


def import_offline_conversion_file(
    path: str | Path,
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
    locale: Locale = DEFAULT_LOCALE,
) -> FileImport:
    """One drop; raises FileImportError when the file cannot be used at all. Nothing may be dated after
    the drop day in the file name (else `as_of`)."""
    path = Path(path)
    rows = read_rows(path, read, [s.source for s in SPECS.values()], REQUIRED_COLUMNS)
    typed, rejects = convert_columns(rows, SPECS, locale)
    typed = typed.with_columns(typed["currency"].str.to_uppercase(), typed["location"].str.to_lowercase())
    return finish_file(
        TABLE,
        path,
        typed,
        rejects,
        {"tenant_id": tenant_id},
        as_of=as_of_for(path, as_of),
        warnings=rows.warnings,
    )


def import_offline_conversion_files(
    paths: Iterable[str | Path],
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
    locale: Locale = DEFAULT_LOCALE,
) -> FileImport:
    """Every drop; an unreadable one is reported in `errors` and never stops the others."""
    return import_files(
        TABLE,
        paths,
        lambda p: import_offline_conversion_file(
            p, tenant_id=tenant_id, as_of=as_of, read=read, locale=locale
        ),
    )
