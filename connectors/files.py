"""Touchpoint file importer (Parquet and NDJSON, chosen by extension) -> raw.touchpoints frames.

Rules:
- A file that cannot be used at all (missing, zero-byte Parquet, unreadable/truncated Parquet, a required
  column absent everywhere, a column of a type that cannot be cast) gives one `FileImportError`, no rows.
- An NDJSON file with no records (zero bytes or blank lines) is a valid day without events: no rows and a
  warning, not an error (the sandbox drops such files for quiet days); `empty_ok=False` makes it an error.
- A bad record (NDJSON line that is not JSON or not an object, a required field missing on that line, a
  value that cannot be cast, e.g. an unparseable `event_ts`) gives an error naming file, field and line
  (Parquet: row), and only that record is dropped: nothing good is dropped with it.
- Explicit nulls pass through; the data contract (connectors.contracts) quarantines them with a reason.
- `import_touchpoint_files` never lets one bad file stop the others.

Line and row numbers are 1-based. Timestamps become naive UTC (aware values converted, naive taken as UTC).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from connectors.contracts import RAW_COLUMNS, TS, parse_timestamps
from connectors.errors import FileImportError
from connectors.landing import LandingZone

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "FileImportError",
    "ImportResult",
    "import_touchpoint_file",
    "import_touchpoint_files",
]

TABLE = "touchpoints"
COLUMNS: dict[str, pl.DataType] = RAW_COLUMNS[TABLE]
REQUIRED_COLUMNS: tuple[str, ...] = ("tenant_id", "event_id", "anonymous_id", "event_ts", "event_type")
OPTIONAL_COLUMNS: tuple[str, ...] = ("utm_source", "utm_medium", "utm_campaign", "landing_page")
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})
LANDING_SOURCE = "touchpoints"


@dataclass
class ImportResult:
    frame: pl.DataFrame
    errors: list[FileImportError] = field(default_factory=list)
    #: rows loaded per file (files with a file-level error are absent)
    files: dict[str, int] = field(default_factory=dict)
    #: landing copy per file, when a LandingZone was given
    landed: dict[str, Path] = field(default_factory=dict)
    #: notes that are not errors (e.g. an NDJSON file without records)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=COLUMNS)


class _Errors:
    """Collects record errors up to a cap, then counts the rest in one summary error."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path, self.cap = path, cap
        self.items: list[FileImportError] = []
        self.dropped = 0

    def add(
        self, reason: str, *, field: str | None = None, line: int | None = None, row: int | None = None
    ) -> None:
        if len(self.items) < self.cap:
            self.items.append(FileImportError(self.path, reason, field=field, line=line, row=row))
        else:
            self.dropped += 1

    def finish(self) -> list[FileImportError]:
        if self.dropped:
            return [*self.items, FileImportError(self.path, f"... and {self.dropped} more record error(s)")]
        return self.items


def import_touchpoint_file(
    path: str | os.PathLike[str],
    *,
    tenant_id: str | None = None,
    landing: LandingZone | None = None,
    max_errors: int = 100,
    empty_ok: bool = True,
) -> ImportResult:
    """Load one touchpoint file. `tenant_id` fills a file without a tenant_id column (a file that has
    one keeps its own values). With `landing`, the file is copied to the landing zone before parsing."""
    p = Path(path)
    try:
        if not p.is_file():
            raise FileImportError(p, "file not found or not a regular file")
        suffix = p.suffix.lower()
        if suffix not in PARQUET_SUFFIXES | NDJSON_SUFFIXES:
            raise FileImportError(
                p, f"unsupported file type {suffix!r} (expected .parquet or .ndjson/.jsonl)"
            )
        is_ndjson = suffix in NDJSON_SUFFIXES
        if p.stat().st_size == 0 and not (is_ndjson and empty_ok):
            raise FileImportError(p, "empty file")
        landed: dict[str, Path] = {}
        if landing is not None:
            landed[str(p)] = landing.save_file(LANDING_SOURCE, tenant_id or "all", p)
        errors = _Errors(p, max_errors)
        if is_ndjson:
            if not _has_content(p):
                if not empty_ok:
                    raise FileImportError(p, "empty file (no records)")
                return ImportResult(_empty(), [], {str(p): 0}, landed, [f"{p}: empty file (no records)"])
            frame = _read_ndjson(p, tenant_id, errors)
        else:
            frame = _read_parquet(p, tenant_id, errors)
        return ImportResult(frame, errors.finish(), {str(p): frame.height}, landed)
    except FileImportError as exc:
        return ImportResult(_empty(), [exc])
    except OSError as exc:
        return ImportResult(_empty(), [FileImportError(p, f"unreadable file: {exc.strerror or exc}")])


def import_touchpoint_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    tenant_id: str | None = None,
    landing: LandingZone | None = None,
    max_errors: int = 100,
    empty_ok: bool = True,
) -> ImportResult:
    """Load every good file (and the good records of partly bad ones); collect errors for the rest."""
    frames: list[pl.DataFrame] = []
    out = ImportResult(_empty())
    for path in paths:
        try:
            one = import_touchpoint_file(
                path, tenant_id=tenant_id, landing=landing, max_errors=max_errors, empty_ok=empty_ok
            )
        except Exception as exc:  # one bad file never stops the others
            one = ImportResult(
                _empty(), [FileImportError(path, f"unexpected error: {type(exc).__name__}: {exc}")]
            )
        frames.append(one.frame)
        out.errors.extend(one.errors)
        out.files.update(one.files)
        out.landed.update(one.landed)
        out.warnings.extend(one.warnings)
    out.frame = pl.concat(frames, how="vertical") if frames else _empty()
    return out


# ---------------------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------------------
def _read_parquet(path: Path, tenant_id: str | None, errors: _Errors) -> pl.DataFrame:
    try:
        raw = pl.read_parquet(path)
    except Exception as exc:  # polars/arrow raise many types for a truncated or foreign file
        raise FileImportError(
            path, f"unreadable Parquet file ({type(exc).__name__}: {_short(exc)})"
        ) from None
    raw = _fill_tenant(raw, tenant_id)
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        reason = "missing required column" if len(missing) == 1 else f"missing required columns {missing}"
        raise FileImportError(path, reason, field=",".join(missing))
    cols: dict[str, pl.Series] = {}
    bad = pl.Series("bad", [False] * raw.height, dtype=pl.Boolean)
    for name, dtype in COLUMNS.items():
        if name not in raw.columns:
            cols[name] = pl.Series(name, [None] * raw.height, dtype=dtype)
            continue
        series, failed = _coerce_series(path, raw[name], name, dtype)
        if failed is not None and failed.any():
            for idx in failed.arg_true().to_list():
                errors.add(
                    f"cannot cast value {_short(raw[name][idx])!r} to {dtype}", field=name, row=idx + 1
                )
            bad = bad | failed
        cols[name] = series
    frame = pl.DataFrame(cols)
    return frame.filter(~bad) if bad.any() else frame


def _coerce_series(
    path: Path, s: pl.Series, name: str, target: pl.DataType
) -> tuple[pl.Series, pl.Series | None]:
    """Cast a column to its raw dtype. A column type that cannot be cast at all is a file error; values
    that fail to cast come back in the mask (the rest of the column is fine)."""
    dtype = s.dtype
    if target == pl.String():
        if dtype == pl.String:
            return s, None
        if dtype.is_integer() or dtype == pl.Categorical or dtype == pl.Enum:
            return s.cast(pl.String), None
        raise FileImportError(path, f"wrong type {dtype}, expected string", field=name)
    if target == TS:
        if isinstance(dtype, pl.Datetime):
            out = s
            if dtype.time_zone is not None:
                out = out.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            return out.dt.cast_time_unit("us").alias(name), None
        if dtype == pl.Date:
            return s.cast(TS).alias(name), None
        if dtype == pl.String:
            parsed = s.to_frame().select(parse_timestamps(name)).to_series()
            return parsed, parsed.is_null() & s.is_not_null()
        raise FileImportError(path, f"wrong type {dtype}, expected timestamp", field=name)
    raise AssertionError(f"no coercion for {target}")  # pragma: no cover


def _fill_tenant(frame: pl.DataFrame, tenant_id: str | None) -> pl.DataFrame:
    if "tenant_id" not in frame.columns and tenant_id is not None:
        return frame.with_columns(pl.lit(tenant_id, dtype=pl.String).alias("tenant_id"))
    return frame


# ---------------------------------------------------------------------------------------------------
# NDJSON
# ---------------------------------------------------------------------------------------------------
def _has_content(path: Path) -> bool:
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            if chunk.strip():
                return True
    return False


def _read_ndjson(path: Path, tenant_id: str | None, errors: _Errors) -> pl.DataFrame:
    data = path.read_bytes()
    fast = _ndjson_fast(path, data, tenant_id)
    if fast is not None:
        return fast
    return _ndjson_slow(path, data, tenant_id, errors)


def _ndjson_fast(path: Path, data: bytes, tenant_id: str | None) -> pl.DataFrame | None:
    """Vectorised path for clean files; None sends the file to the line-by-line path for diagnostics."""
    body = data.rstrip(b"\r\n")
    if not body or body.startswith((b"\n", b"\r")) or b"\n\n" in body or b"\n\r\n" in body:
        return None  # blank lines would break the row -> line mapping
    try:
        raw = pl.read_ndjson(path, infer_schema_length=None)
    except Exception:
        return None
    raw = _fill_tenant(raw, tenant_id)
    if any(c not in raw.columns or raw[c].null_count() for c in REQUIRED_COLUMNS):
        return None
    cols = {}
    for name, dtype in COLUMNS.items():
        if name not in raw.columns:
            cols[name] = pl.Series(name, [None] * raw.height, dtype=dtype)
            continue
        try:
            series, failed = _coerce_series(path, raw[name], name, dtype)
        except FileImportError:
            return None
        if failed is not None and failed.any():
            return None
        cols[name] = series
    return pl.DataFrame(cols)


def _ndjson_slow(path: Path, data: bytes, tenant_id: str | None, errors: _Errors) -> pl.DataFrame:
    records: list[tuple[int, Mapping[str, Any]]] = []
    for lineno, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            errors.add(f"invalid JSON: {_short(exc)}", line=lineno)
            continue
        if not isinstance(obj, dict):
            errors.add(f"record is a JSON {type(obj).__name__}, expected an object", line=lineno)
            continue
        records.append((lineno, obj))
    if not records:
        if errors.items:
            return _empty()
        raise FileImportError(path, "empty file (no records)")

    required = [c for c in REQUIRED_COLUMNS if not (c == "tenant_id" and tenant_id is not None)]
    for col in required:
        if all(col not in obj for _, obj in records):
            raise FileImportError(path, "missing required column", field=col, line=records[0][0])

    lines: list[int] = []
    values: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for lineno, obj in records:
        problems: list[tuple[str, str]] = []
        row: dict[str, Any] = {}
        for col, dtype in COLUMNS.items():
            if col not in obj:
                if col == "tenant_id" and tenant_id is not None:
                    row[col] = tenant_id
                elif col in REQUIRED_COLUMNS:
                    problems.append((col, "missing required field"))
                else:
                    row[col] = None
                continue
            value = obj[col]
            if value is None:
                row[col] = None
            elif dtype == TS:
                if isinstance(value, str):
                    row[col] = value
                else:
                    problems.append((col, f"wrong type {type(value).__name__}, expected an ISO-8601 string"))
            elif isinstance(value, str):
                row[col] = value
            elif isinstance(value, int) and not isinstance(value, bool):
                row[col] = str(value)
            else:
                problems.append((col, f"wrong type {type(value).__name__}, expected string"))
        if problems:
            for col, reason in problems:
                errors.add(reason, field=col, line=lineno)
            continue
        lines.append(lineno)
        for col in COLUMNS:
            values[col].append(row[col])

    if not lines:
        return _empty()
    frame = pl.DataFrame(values, schema={c: (pl.String() if t == TS else t) for c, t in COLUMNS.items()})
    parsed = frame.select(parse_timestamps("event_ts")).to_series()
    failed = parsed.is_null() & frame["event_ts"].is_not_null()
    frame = frame.with_columns(parsed)
    if failed.any():
        for idx in failed.arg_true().to_list():
            errors.add(
                f"cannot parse timestamp {_short(values['event_ts'][idx])!r}",
                field="event_ts",
                line=lines[idx],
            )
        frame = frame.filter(~failed)
    return frame


def _short(value: Any, limit: int = 120) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
