"""Erasure ("right to be forgotten") requests from CSV drops -> raw.erasure_requests.

Columns: request_id, contact_id, email, requested_at (the sandbox writes
`<inbox>/erasure_requests/<tenant>/<drop day>.csv`). A request names the person by CRM contact id, by
email, or both; a row with neither is rejected. The email is trimmed, lower-cased and SHA-256 hashed on
import: the warehouse keeps only the hash, which is what the erasure step matches contacts by.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from connectors.errors import FileImportError
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
    reject_where,
)

TABLE = "erasure_requests"
SPECS: dict[str, ColumnSpec] = {
    "request_id": ColumnSpec("string", "request_id", required=True),
    "email_sha256": ColumnSpec("email_sha256", "email", output="email_sha256"),
    "contact_id": ColumnSpec("string", "contact_id"),
    "requested_at": ColumnSpec("timestamp", "requested_at", required=True),
}
REQUIRED_COLUMNS = ("request_id", "requested_at")


def import_erasure_request_file(
    path: str | Path,
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
    locale: Locale = DEFAULT_LOCALE,
) -> FileImport:
    path = Path(path)
    rows = read_rows(path, read, [s.source for s in SPECS.values()], REQUIRED_COLUMNS)
    if "email" not in rows.frame.columns and "contact_id" not in rows.frame.columns:
        raise FileImportError(path, "missing column 'email' or 'contact_id' (a request must name someone)")
    typed, rejects = convert_columns(rows, SPECS, locale)
    nobody = typed["email_sha256"].is_null() & typed["contact_id"].is_null()
    typed, rejects = reject_where(
        typed,
        rejects,
        nobody,
        "email, contact_id",
        "email, contact_id: a request must name a contact id or an email",
        record_columns=["request_id"],
    )
    return finish_file(
        TABLE,
        path,
        typed,
        rejects,
        {"tenant_id": tenant_id},
        as_of=as_of_for(path, as_of),
        warnings=rows.warnings,
    )


def import_erasure_request_files(
    paths: Iterable[str | Path],
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
) -> FileImport:
    return import_files(
        TABLE, paths, lambda p: import_erasure_request_file(p, tenant_id=tenant_id, as_of=as_of, read=read)
    )
