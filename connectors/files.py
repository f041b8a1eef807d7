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
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from connectors.contracts import RAW_COLUMNS, TS, parse_timestamp_columns
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
    staged = _stage(Path(path), tenant_id, landing, empty_ok)
    return staged if isinstance(staged, ImportResult) else _load(staged, tenant_id, max_errors)


def import_touchpoint_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    tenant_id: str | None = None,
    landing: LandingZone | None = None,
    max_errors: int = 100,
    empty_ok: bool = True,
) -> ImportResult:
    """Load every good file (and the good records of partly bad ones); collect errors for the rest.

    Each file gets what `import_touchpoint_file` gives it. Files are first checked (and landed) in
    order; clean NDJSON files (every value a string or null, no blank lines) are then parsed in one batch,
    the others one by one; so are Parquet files of one schema."""
    paths = list(paths)
    results: list[ImportResult | None] = [None] * len(paths)
    staged: list[tuple[int, _Staged]] = []
    for i, path in enumerate(paths):
        try:
            one = _stage(Path(path), tenant_id, landing, empty_ok)
        except Exception as exc:  # one bad file never stops the others
            results[i] = _unexpected(path, exc)
            continue
        if isinstance(one, ImportResult):
            results[i] = one
        else:
            staged.append((i, one))
    batch = {
        **_ndjson_batch([one for _, one in staged if one.is_ndjson], tenant_id),
        **_parquet_batch([one for _, one in staged if not one.is_ndjson], tenant_id),
    }
    for i, one in staged:
        frame = batch.get(one.path)
        if frame is not None:
            results[i] = ImportResult(frame, [], {str(one.path): frame.height}, one.landed)
            continue
        try:
            results[i] = _load(one, tenant_id, max_errors)
        except Exception as exc:  # one bad file never stops the others
            results[i] = _unexpected(paths[i], exc)
    frames: list[pl.DataFrame] = []
    out = ImportResult(_empty())
    for one in results:
        assert one is not None
        frames.append(one.frame)
        out.errors.extend(one.errors)
        out.files.update(one.files)
        out.landed.update(one.landed)
        out.warnings.extend(one.warnings)
    out.frame = pl.concat(frames, how="vertical") if frames else _empty()
    return out


def _unexpected(path: str | os.PathLike[str], exc: Exception) -> ImportResult:
    return ImportResult(_empty(), [FileImportError(path, f"unexpected error: {type(exc).__name__}: {exc}")])


@dataclass
class _Staged:
    """A file that passed the checks before parsing (and was landed)."""

    path: Path
    is_ndjson: bool
    landed: dict[str, Path]


def _stage(
    p: Path, tenant_id: str | None, landing: LandingZone | None, empty_ok: bool
) -> _Staged | ImportResult:
    """What `import_touchpoint_file` does before parsing: file checks, the landing copy, empty NDJSON."""
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
        if is_ndjson and not _has_content(p):
            if not empty_ok:
                raise FileImportError(p, "empty file (no records)")
            return ImportResult(_empty(), [], {str(p): 0}, landed, [f"{p}: empty file (no records)"])
        return _Staged(p, is_ndjson, landed)
    except FileImportError as exc:
        return ImportResult(_empty(), [exc])
    except OSError as exc:
        return ImportResult(_empty(), [FileImportError(p, f"unreadable file: {exc.strerror or exc}")])


def _load(staged: _Staged, tenant_id: str | None, max_errors: int) -> ImportResult:
    """Parse a staged file (the rest of `import_touchpoint_file`)."""
    p = staged.path
    try:
        errors = _Errors(p, max_errors)
        if staged.is_ndjson:
            frame = _read_ndjson(p, tenant_id, errors)
        else:
            frame = _read_parquet(p, tenant_id, errors)
        return ImportResult(frame, errors.finish(), {str(p): frame.height}, staged.landed)
    except FileImportError as exc:
        return ImportResult(_empty(), [exc])
    except OSError as exc:
        return ImportResult(_empty(), [FileImportError(p, f"unreadable file: {exc.strerror or exc}")])


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


def _parquet_batch(staged: list[_Staged], tenant_id: str | None) -> dict[Path, pl.DataFrame]:
    """`_read_parquet` for many files of one schema at once: one read, one coercion, one slice per file.
    Files of another schema, or where a value fails to cast, are left out of the answer (and go through
    `import_touchpoint_file`'s path)."""
    schemas: dict[Path, pl.Schema] = {}
    for one in staged:
        if one.path in schemas:
            continue
        try:
            schemas[one.path] = pl.read_parquet_schema(one.path)
        except Exception:
            continue  # the one-file path reports it
    if len(schemas) < 2:
        return {}
    by_text = Counter(str(schema) for schema in schemas.values())
    common = next(v for v in schemas.values() if str(v) == by_text.most_common(1)[0][0])
    # Glob characters: the one-file read may treat the name as a pattern; leave those to it.
    paths = [p for p, schema in schemas.items() if schema == common and not set("*?[") & set(str(p))]
    if len(paths) < 2:
        return {}
    names = [*common.names(), *(["tenant_id"] if "tenant_id" not in common and tenant_id is not None else [])]
    if any(c not in names for c in REQUIRED_COLUMNS):
        return {}
    try:
        names_in = [str(p) for p in paths]
        raw = pl.read_parquet(names_in, glob=False, include_file_paths="__file")
        raw = _fill_tenant(raw, tenant_id)
        cols: dict[str, pl.Series] = {}
        bad = pl.Series("bad", [False] * raw.height, dtype=pl.Boolean)
        for name, dtype in COLUMNS.items():
            if name not in raw.columns:
                cols[name] = pl.Series(name, [None] * raw.height, dtype=dtype)
                continue
            series, failed = _coerce_series(Path("<batch>"), raw[name], name, dtype)
            if failed is not None:
                bad = bad | failed
            cols[name] = series
    except Exception:  # a type that does not cast, files that do not concatenate, ...: one by one
        return {}
    frame = pl.DataFrame(cols)
    bad_files = set(raw.filter(bad)["__file"].unique().to_list())
    counts = raw.group_by("__file").len()
    heights = dict(zip(counts["__file"].to_list(), counts["len"].to_list(), strict=True))
    if sum(heights.values()) != raw.height or not set(heights) <= set(names_in):
        return {}
    out: dict[Path, pl.DataFrame] = {}
    offset = 0
    for path, name in zip(paths, names_in, strict=True):
        n = heights.get(name, 0)
        if name not in bad_files:
            out[path] = frame.slice(offset, n)
        offset += n
    return out


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
            parsed = parse_timestamp_columns(s.alias(name).to_frame(), [name]).to_series()
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
    if not body or body.startswith((b"\n", b"\r")) or _BLANK_LINE.search(body) is not None:
        return None  # blank lines would break the row -> line mapping
    try:
        if _only_strings_and_nulls(body):
            # Every value is a string or null: read as strings straight away (what inferring the schema
            # would give, without the extra pass over the file). A file without the tenant_id key is
            # filled below as `_fill_tenant` does.
            raw = pl.read_ndjson(path, schema=_STRING_SCHEMA)
            if tenant_id is not None and b'"tenant_id"' not in body:
                raw = raw.with_columns(pl.lit(tenant_id, dtype=pl.String).alias("tenant_id"))
        else:
            raw = _fill_tenant(pl.read_ndjson(path, infer_schema_length=None), tenant_id)
    except Exception:
        return None
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


_STRING_SCHEMA: dict[str, pl.DataType] = {name: pl.String() for name in COLUMNS}


def _clean_ndjson_body(data: bytes) -> bytes | None:
    """The body `_ndjson_fast` reads as all-string columns (no blank lines, only string or null
    values), without its trailing newlines; None for any other file."""
    body = data.rstrip(b"\r\n")
    if not body or body.startswith((b"\n", b"\r")) or _BLANK_LINE.search(body) is not None:
        return None
    return body if _only_strings_and_nulls(body) else None


#: Bytes of NDJSON parsed in one go by `import_touchpoint_files` (bounds the memory a batch takes).
NDJSON_BATCH_BYTES = 32 << 20


def _ndjson_batch(staged: list[_Staged], tenant_id: str | None) -> dict[Path, pl.DataFrame]:
    """`_ndjson_fast` for many clean files at once, up to `NDJSON_BATCH_BYTES` at a time: one read, one
    timestamp parse, then one slice per file. A file the one-file path would not take (a null in a
    required column, an unparseable timestamp, ...) is left out of the answer and goes through
    `import_touchpoint_file`'s path."""
    out: dict[Path, pl.DataFrame] = {}
    paths: list[Path] = []
    bodies: list[bytes] = []
    size = 0
    for one in staged:
        try:
            body = _clean_ndjson_body(one.path.read_bytes())
        except OSError:
            continue  # the one-file path reports it
        if body is None:
            continue
        paths.append(one.path)
        bodies.append(body)
        size += len(body)
        if size >= NDJSON_BATCH_BYTES:
            out.update(_ndjson_chunk(paths, bodies, tenant_id))
            paths, bodies, size = [], [], 0
    if len(bodies) > 1:
        out.update(_ndjson_chunk(paths, bodies, tenant_id))
    return out


def _ndjson_chunk(paths: list[Path], bodies: list[bytes], tenant_id: str | None) -> dict[Path, pl.DataFrame]:
    lines = [body.count(b"\n") + 1 for body in bodies]
    no_key = [k for k, body in enumerate(bodies) if b'"tenant_id"' not in body]
    try:
        raw = pl.read_ndjson(b"\n".join(bodies), schema=_STRING_SCHEMA)
    except Exception:
        return {}
    if raw.height != sum(lines):
        return {}  # some line did not give exactly one row: the one-by-one path sorts it out
    file_no = pl.Series("__file", np.repeat(np.arange(len(bodies), dtype=np.int64), lines))
    raw = raw.with_columns(file_no)
    if tenant_id is not None and no_key:
        raw = raw.with_columns(
            pl.when(pl.col("__file").is_in(no_key))
            .then(pl.lit(tenant_id, dtype=pl.String))
            .otherwise(pl.col("tenant_id"))
            .alias("tenant_id")
        )
    parsed = parse_timestamp_columns(raw.select("event_ts"), ["event_ts"]).to_series()
    bad = pl.any_horizontal(*(pl.col(c).is_null() for c in REQUIRED_COLUMNS)) | (
        parsed.is_null() & raw["event_ts"].is_not_null()
    )
    bad_files = set(raw.filter(bad)["__file"].unique().to_list())
    frame = raw.with_columns(parsed).select(list(COLUMNS))
    out: dict[Path, pl.DataFrame] = {}
    offset = 0
    for k, (path, n) in enumerate(zip(paths, lines, strict=True)):
        if k not in bad_files:
            out[path] = frame.slice(offset, n)
        offset += n
    return out


_BLANK_LINE = re.compile(rb"\n\r?\n")  # b"\n\n" in body or b"\n\r\n" in body, in one pass
# A key whose value is neither a string nor null (compact layout: the colon right after the key).
_NON_STRING_VALUE = re.compile(rb':(?<=":)(?!"|null)')
# A key spaced from its colon, which the pattern above would not see.
_SPACED_KEY = re.compile(rb'"[ \t\r]+:')


def _only_strings_and_nulls(body: bytes) -> bool:
    """True when every value in the NDJSON body is a JSON string or null, so reading all columns as
    strings gives what schema inference would. Conservative: `":` inside a string text, or a key spaced
    from its colon, answers False (the caller then infers the schema)."""
    if _NON_STRING_VALUE.search(body) is not None:
        return False
    if b" " in body or b"\t" in body or b"\r" in body:  # one byte each: cheap; then look closer
        return _SPACED_KEY.search(body) is None
    return True


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
    parsed = parse_timestamp_columns(frame.select("event_ts"), ["event_ts"]).to_series()
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
