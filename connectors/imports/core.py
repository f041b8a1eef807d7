"""Shared machinery of the file importers: read a CSV/Parquet drop, convert its columns, check the contract.

One file goes through three gates, and each keeps what is good:

1. **Read** (`read_rows`): the whole file fails with one `FileImportError` naming file and reason when it
   cannot be used at all: missing, zero bytes, unsupported type, unreadable/truncated Parquet, a CSV that
   does not parse, a required column absent from the header. Lines that are not valid in the declared
   encoding are set aside one by one (the field holding the bad byte is named); the other lines load.
   Columns the importer does not know are ignored with a warning.
2. **Convert** (`convert_columns`): every value is parsed with the declared locale (decimal and thousands
   separators, date format); a row with a value that does not parse, or a required value that is empty,
   is rejected with file, line, field and reason. Emails are trimmed, lower-cased and SHA-256 hashed
   right here: the raw address never leaves this step (not in rows, rejects, errors or logs).
3. **Contract** (`connectors.contracts.validate`): negative money, dates after the file's drop day,
   duplicate keys, bad codes... go to the quarantine with their reason, the rest is loaded.

Everything rejected ends in `FileImport.quarantine` (file, line, field, reason, record as JSON) for
`ops.quarantine`; `FileImport.messages()` renders one line per problem: `path:line: reason [field=x]`.
Line numbers are the file's 1-based lines for CSV (assuming no line breaks inside quoted values) and
1-based rows for Parquet. Parsing uses polars (`read_csv` with every column as text, `read_parquet`).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl

from connectors.contracts import MONEY, RAW_COLUMNS, TS, parse_timestamps, validate
from connectors.errors import FileImportError

Kind = Literal["string", "money", "int", "float", "date", "timestamp", "email_sha256"]
LINE = "_line"  # 1-based line (CSV) or row (Parquet) of a record in its file
FILE = "_file"  # the file a record came from
QUARANTINE_COLUMNS: dict[str, pl.DataType] = {
    FILE: pl.String(),
    LINE: pl.Int64(),
    "field": pl.String(),
    "reason": pl.String(),
    "record": pl.String(),
}
REPLACEMENT_CHAR = "\ufffd"
_DROP_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")
_UTF8 = {"utf-8", "utf8", "utf-8-sig", "utf_8", "utf_8_sig"}


# ---------------------------------------------------------------------------------------------------
# Options and results
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadOptions:
    """How a file is laid out. CSV only: encoding, delimiter, quote, metadata lines before the header."""

    encoding: str = "utf-8"
    delimiter: str = ","
    quote_char: str = '"'
    skip_rows: int = 0


@dataclass(frozen=True)
class Locale:
    """How numbers and dates are written in a text file ('1.234,56' and '31.12.2026' in German)."""

    decimal: str = "."
    thousands: str | None = None
    date_format: str = "%Y-%m-%d"
    timestamp_format: str | None = None  # None: ISO 8601 forms (`contracts.parse_timestamps`)


@dataclass(frozen=True)
class ColumnSpec:
    """One raw-table column: where it comes from in the file, how to parse it, whether it must be there."""

    kind: Kind
    source: str  # the file's column (header) name
    required: bool = False  # the value must not be empty
    output: str | None = None  # raw column name when it differs from the mapped name (email -> email_sha256)


DEFAULT_READ = ReadOptions()
DEFAULT_LOCALE = Locale()


@dataclass
class FileImport:
    """What an import gives: good rows (raw table columns + `_file`, `_line`), the quarantine, errors."""

    table: str
    frame: pl.DataFrame
    quarantine: pl.DataFrame
    errors: list[FileImportError] = field(default_factory=list)  # files that could not be read at all
    files: dict[str, int] = field(default_factory=dict)  # rows loaded per readable file
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> pl.DataFrame:
        """The good rows without the `_file`/`_line` bookkeeping columns."""
        return self.frame.drop(FILE, LINE)

    def messages(self) -> list[str]:
        """One line per unreadable file and per quarantined record: `path:line: reason [field=x]`."""
        out = [str(e) for e in self.errors]
        for row in self.quarantine.iter_rows(named=True):
            out.append(f"{row[FILE]}:{row[LINE]}: {row['reason']} [field={row['field']}]")
        return out

    @classmethod
    def combine(cls, table: str, parts: Sequence[FileImport]) -> FileImport:
        out = cls(table, empty_rows(table), empty_quarantine())
        if parts:
            out.frame = pl.concat([p.frame for p in parts], how="vertical")
            out.quarantine = pl.concat([p.quarantine for p in parts], how="vertical")
        for part in parts:
            out.errors.extend(part.errors)
            out.files.update(part.files)
            out.warnings.extend(part.warnings)
        return out


def empty_rows(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema={**RAW_COLUMNS[table], FILE: pl.String(), LINE: pl.Int64()})


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_COLUMNS)


def drop_day(path: str | Path) -> date | None:
    """The day a file was dropped, from the first YYYY-MM-DD in its name (None when it has none)."""
    match = _DROP_DAY.search(Path(path).name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def hash_emails(emails: pl.Series) -> pl.Series:
    """SHA-256 hex of each trimmed, lower-cased address; empty -> null. The only place raw emails go."""
    normalised = emails.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.Series(
        emails.name,
        [None if not e else hashlib.sha256(e.encode()).hexdigest() for e in normalised.to_list()],
        dtype=pl.String(),
    )


# ---------------------------------------------------------------------------------------------------
# 1. Read
# ---------------------------------------------------------------------------------------------------
@dataclass
class RawRows:
    """A file's records as read: its own columns (text for CSV, native types for Parquet) + `_line`,
    and the lines set aside because they were not valid in the declared encoding."""

    path: Path
    frame: pl.DataFrame
    undecodable: pl.DataFrame  # same columns (decoded with replacement characters) + `_line`
    encoding: str
    warnings: list[str] = field(default_factory=list)


def read_rows(path: Path, options: ReadOptions, wanted: Iterable[str], required: Iterable[str]) -> RawRows:
    """Read a CSV or Parquet file (by suffix); raises FileImportError when it cannot be used at all.

    `wanted` are the file columns the importer uses (others are ignored with a warning); `required`
    the ones without which no row can load."""
    if not path.is_file():
        raise FileImportError(path, "file not found or not a regular file")
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".parquet", ".pq"}:
        raise FileImportError(path, f"unsupported file type {suffix!r} (expected .csv or .parquet)")
    if path.stat().st_size == 0:
        raise FileImportError(path, "empty file (0 bytes)")
    rows = _read_csv(path, options) if suffix == ".csv" else _read_parquet(path)
    columns = [c for c in rows.frame.columns if c != LINE]
    missing = [c for c in required if c not in columns]
    if missing:
        found = ", ".join(repr(c) for c in columns[:30])
        raise FileImportError(
            path,
            f"missing required column(s) {', '.join(repr(c) for c in missing)} (found: {found})",
            field=missing[0],
        )
    wanted = set(wanted)
    extra = [c for c in columns if c not in wanted]
    if extra:
        rows.warnings.append(f"{path}: ignored unknown column(s) {', '.join(repr(c) for c in extra)}")
        rows.frame = rows.frame.drop(extra)
        rows.undecodable = rows.undecodable.drop([c for c in extra if c in rows.undecodable.columns])
    return rows


def _read_parquet(path: Path) -> RawRows:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # truncated or not Parquet at all: polars says why
        raise FileImportError(path, f"unreadable Parquet file ({_short(exc)})") from None
    frame = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE))
    return RawRows(path, frame, frame.clear(), "parquet")


def _read_csv(path: Path, options: ReadOptions) -> RawRows:
    data = path.read_bytes()
    encoding = options.encoding.lower()
    if encoding in _UTF8:
        encoding = "utf-8"
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
    try:
        lines = [(n, line, None) for n, line in enumerate(data.decode(encoding).split("\n"), start=1)]
    except UnicodeDecodeError:
        lines = list(_decode_lines(data, encoding))
    except LookupError:
        raise FileImportError(path, f"unknown encoding {options.encoding!r}") from None
    header_at = options.skip_rows
    if len(lines) <= header_at or not lines[header_at][1].strip():
        raise FileImportError(path, f"empty file (no header at line {header_at + 1})", line=header_at + 1)
    header = lines[header_at][1].rstrip("\r")
    body = [ln for ln in lines[header_at + 1 :] if ln[1].strip()]
    good = [ln for ln in body if ln[2] is None]
    bad = [ln for ln in body if ln[2] is not None]
    frame = _parse_csv(path, header, good, options)
    undecodable = _parse_csv(path, header, bad, options)
    reasons = {n: why for n, _, why in bad}
    undecodable = undecodable.with_columns(
        pl.col(LINE).replace_strict(reasons, default=None, return_dtype=pl.String).alias("_why")
    )
    return RawRows(path, frame, undecodable, encoding)


def _decode_lines(data: bytes, encoding: str) -> Iterable[tuple[int, str, str | None]]:
    """Line by line: (line number, text, why it is not valid or None); bad lines decoded with U+FFFD."""
    for n, raw in enumerate(data.split(b"\n"), start=1):
        try:
            yield n, raw.decode(encoding), None
        except UnicodeDecodeError as exc:
            byte = raw[exc.start : exc.start + 1].hex()
            why = f"not valid {encoding} (byte 0x{byte} at column {exc.start + 1})"
            yield n, raw.decode(encoding, errors="replace"), why


def _parse_csv(
    path: Path, header: str, lines: list[tuple[int, str, str | None]], options: ReadOptions
) -> pl.DataFrame:
    text = "\n".join([header, *(ln[1].rstrip("\r") for ln in lines)]) + "\n"
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode()),
            separator=options.delimiter,
            quote_char=options.quote_char,
            infer_schema=False,
        )
    except Exception as exc:
        raise FileImportError(path, f"unreadable CSV ({_short(exc)})") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    numbers = [ln[0] for ln in lines]
    if frame.height != len(numbers):  # a quoted value spans lines: fall back to record numbers
        raise FileImportError(
            path, f"CSV records do not match lines ({frame.height} records on {len(numbers)} lines)"
        )
    return frame.with_columns(pl.Series(LINE, numbers, dtype=pl.Int64))


# ---------------------------------------------------------------------------------------------------
# 2. Convert
# ---------------------------------------------------------------------------------------------------
_KIND_TEXT = {
    "money": "an amount with at most 2 decimals",
    "int": "a whole number",
    "float": "a number",
    "date": "a date",
    "timestamp": "a timestamp",
    "email_sha256": "an email address",
}


def convert_columns(
    rows: RawRows, specs: Mapping[str, ColumnSpec], locale: Locale
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(typed rows with `_line`, rejects with `_line`, field, reason, record).

    A spec's key is the raw column it fills (or, for `email_sha256`, the column holding the hash)."""
    frame = rows.frame
    n = frame.height
    typed: dict[str, pl.Series] = {}
    problems: list[tuple[pl.Series, str, str]] = []  # (row mask, field, reason)
    for name, spec in specs.items():
        if spec.source not in frame.columns:
            typed[name] = pl.Series(name, [None] * n, dtype=_dtype(spec.kind))
            continue
        raw = frame[spec.source]
        value, failed = _convert(raw, spec.kind, locale)
        typed[name] = value.alias(name)
        if failed is not None and failed.any():
            problems.append((failed, name, f"{name}: not {_describe(spec.kind, locale)}"))
        if spec.required:
            empty = value.is_null() & (~failed if failed is not None else pl.repeat(True, n, eager=True))
            if empty.any():
                problems.append((empty, name, f"{name}: must not be empty"))
    out = pl.DataFrame(list(typed.values())).with_columns(frame[LINE]) if n else _empty_typed(specs)
    record_cols = _record_columns(frame, specs)
    rejects = [_rejects_from_masks(frame, out, problems, record_cols, specs)]
    if rows.undecodable.height:
        rejects.append(_undecodable_rejects(rows.undecodable, record_cols, specs))
    bad = pl.concat(rejects) if rejects else _empty_rejects()
    if problems:
        any_bad = problems[0][0]
        for mask, _, _ in problems[1:]:
            any_bad = any_bad | mask
        out = out.filter(~any_bad)
    return out, bad


def _dtype(kind: Kind) -> pl.DataType:
    return {
        "string": pl.String(),
        "email_sha256": pl.String(),
        "money": MONEY,
        "int": pl.Int64(),
        "float": pl.Float64(),
        "date": pl.Date(),
        "timestamp": TS,
    }[kind]


def _empty_typed(specs: Mapping[str, ColumnSpec]) -> pl.DataFrame:
    return pl.DataFrame(schema={**{k: _dtype(s.kind) for k, s in specs.items()}, LINE: pl.Int64()})


def _describe(kind: Kind, locale: Locale) -> str:
    text = _KIND_TEXT[kind]
    if kind in {"money", "float", "int"}:
        seps = f"decimal {locale.decimal!r}" + (
            f", thousands {locale.thousands!r}" if locale.thousands else ""
        )
        return f"{text} ({seps})"
    if kind == "date":
        return f"{text} in format {locale.date_format}"
    if kind == "timestamp":
        return f"{text} ({locale.timestamp_format or 'ISO 8601'})"
    return text


def _number_text(raw: pl.Series, locale: Locale) -> pl.Series:
    text = raw.cast(pl.String).str.strip_chars()
    if locale.thousands:
        text = text.str.replace_all(locale.thousands, "", literal=True)
    if locale.decimal != ".":
        text = text.str.replace_all(locale.decimal, ".", literal=True)
    return text.replace("", None)


def _convert(raw: pl.Series, kind: Kind, locale: Locale) -> tuple[pl.Series, pl.Series | None]:
    """(converted values, mask of present values that did not convert, or None when none can fail)."""
    present = raw.is_not_null()
    if raw.dtype == pl.String:
        present = present & (raw.str.strip_chars() != "")
    if kind == "string":
        if raw.dtype == pl.String:
            return raw.str.strip_chars().replace("", None), None
        return raw.cast(pl.String), None
    if kind == "email_sha256":
        text = raw.cast(pl.String).str.strip_chars()
        failed = present & ~text.str.contains(r"^[^@\s]+@[^@\s]+$").fill_null(False)
        return hash_emails(pl.select(pl.when(~failed).then(text)).to_series()), failed
    if raw.dtype != pl.String:
        value = _convert_native(raw, kind)
    elif kind == "money":
        text = _number_text(raw, locale)
        ok = text.str.contains(r"^-?[0-9]{1,16}(?:\.[0-9]{1,2})?$").fill_null(False)
        value = pl.select(pl.when(ok).then(text)).to_series().cast(MONEY)
    elif kind == "int":
        text = _number_text(raw, locale)
        ok = text.str.contains(r"^-?[0-9]{1,18}$").fill_null(False)
        value = pl.select(pl.when(ok).then(text)).to_series().cast(pl.Int64)
    elif kind == "float":
        value = _number_text(raw, locale).cast(pl.Float64, strict=False)
    elif kind == "date":
        value = raw.str.strip_chars().str.strptime(pl.Date, locale.date_format, strict=False)
    else:  # timestamp
        text = raw.str.strip_chars()
        if locale.timestamp_format:
            value = text.str.strptime(TS, locale.timestamp_format, strict=False)
        else:
            value = pl.select(parse_timestamps(pl.lit(text))).to_series()
    failed = present & value.is_null()
    return value, failed


def _convert_native(raw: pl.Series, kind: Kind) -> pl.Series:
    """Parquet columns arrive typed: cast them without going through text."""
    if kind == "timestamp" and isinstance(raw.dtype, pl.Datetime):
        if raw.dtype.time_zone:
            return raw.dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(TS)
        return raw.cast(TS)
    if kind == "money" and raw.dtype.is_float():
        return raw.round(2).cast(MONEY, strict=False)
    return raw.cast(_dtype(kind), strict=False)


def _record_columns(frame: pl.DataFrame, specs: Mapping[str, ColumnSpec]) -> dict[str, str]:
    """file column -> name in the quarantine record (raw names; emails only as their hash)."""
    return {s.source: (s.output or name) for name, s in specs.items() if s.source in frame.columns}


def _records(
    frame: pl.DataFrame, record_cols: Mapping[str, str], specs: Mapping[str, ColumnSpec]
) -> list[str]:
    email_sources = {s.source for s in specs.values() if s.kind == "email_sha256"}
    cols = []
    for source, name in record_cols.items():
        col = frame[source]
        if source in email_sources:
            col = hash_emails(col)
        cols.append(col.cast(pl.String).alias(name))
    if not cols:
        return ["{}"] * frame.height
    return [json.dumps(r, sort_keys=True, default=str) for r in pl.DataFrame(cols).to_dicts()]


def _rejects_from_masks(
    frame: pl.DataFrame,
    typed: pl.DataFrame,
    problems: list[tuple[pl.Series, str, str]],
    record_cols: Mapping[str, str],
    specs: Mapping[str, ColumnSpec],
) -> pl.DataFrame:
    if not problems:
        return _empty_rejects()
    fields = pl.DataFrame({f"f{i}": mask for i, (mask, _, _) in enumerate(problems)})
    any_bad = fields.select(pl.any_horizontal(pl.all())).to_series()
    idx = any_bad.arg_true()
    bad = frame[idx]
    masks = fields[idx]
    names = [[problems[i][1] for i in range(len(problems)) if row[i]] for row in masks.iter_rows()]
    reasons = [[problems[i][2] for i in range(len(problems)) if row[i]] for row in masks.iter_rows()]
    return pl.DataFrame(
        {
            LINE: bad[LINE],
            "field": [", ".join(dict.fromkeys(n)) for n in names],
            "reason": ["; ".join(dict.fromkeys(r)) for r in reasons],
            "record": _records(bad, record_cols, specs),
        },
        schema={k: v for k, v in QUARANTINE_COLUMNS.items() if k != FILE},
    )


def _undecodable_rejects(
    bad: pl.DataFrame, record_cols: Mapping[str, str], specs: Mapping[str, ColumnSpec]
) -> pl.DataFrame:
    fields = []
    for row in bad.iter_rows(named=True):
        hit = [record_cols.get(c, c) for c in record_cols if REPLACEMENT_CHAR in str(row.get(c) or "")]
        fields.append(", ".join(hit) or "*")
    return pl.DataFrame(
        {
            LINE: bad[LINE],
            "field": fields,
            "reason": [f"{f}: {why}" for f, why in zip(fields, bad["_why"].to_list(), strict=True)],
            "record": _records(bad, record_cols, specs),
        },
        schema={k: v for k, v in QUARANTINE_COLUMNS.items() if k != FILE},
    )


def _empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema={k: v for k, v in QUARANTINE_COLUMNS.items() if k != FILE})


def reject_where(
    typed: pl.DataFrame,
    rejects: pl.DataFrame,
    condition: pl.Expr | pl.Series,
    field: str,
    reason: str,
    *,
    record_columns: Iterable[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move the typed rows matching `condition` (a rule across fields) to the rejects, with their line,
    the field(s) and the reason; the record keeps `record_columns` (every column by default)."""
    bad = typed.filter(condition)
    if bad.height == 0:
        return typed, rejects
    shown = bad.drop(LINE) if record_columns is None else bad.select(list(record_columns))
    new = pl.DataFrame(
        {
            LINE: bad[LINE],
            "field": [field] * bad.height,
            "reason": [reason] * bad.height,
            "record": [json.dumps(r, sort_keys=True, default=str) for r in shown.to_dicts()],
        },
        schema=rejects.schema,
    )
    return typed.filter(~condition), pl.concat([rejects, new])


# ---------------------------------------------------------------------------------------------------
# 3. Contract, and the whole file
# ---------------------------------------------------------------------------------------------------
def finish_file(
    table: str,
    path: Path,
    typed: pl.DataFrame,
    rejects: pl.DataFrame,
    constants: Mapping[str, Any],
    *,
    as_of: date | datetime | None,
    warnings: list[str],
) -> FileImport:
    """Add constants, shape as the raw table, run its contract; good rows and the file's quarantine."""
    columns = RAW_COLUMNS[table]
    frame = typed.with_columns(
        *(pl.lit(v, dtype=columns[k]).alias(k) for k, v in constants.items()),
    )
    for name, dtype in columns.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    frame = frame.select(*columns, LINE).with_columns(pl.lit(str(path)).alias(FILE))
    checked = validate(frame, table, as_of=as_of)
    good = checked.good.select(*columns, FILE, LINE)
    contract = _contract_rejects(checked.quarantine)
    quarantine = pl.concat(
        [
            rejects.with_columns(pl.lit(str(path)).alias(FILE)).select(*QUARANTINE_COLUMNS),
            contract.with_columns(pl.lit(str(path)).alias(FILE)).select(*QUARANTINE_COLUMNS),
        ]
    ).sort(LINE, maintain_order=True)
    return FileImport(table, good, quarantine, [], {str(path): good.height}, list(warnings))


def _contract_rejects(quarantine: pl.DataFrame) -> pl.DataFrame:
    """contracts.validate's quarantine (record JSON carrying `_line`/`_file`) -> reject rows."""
    lines, records = [], []
    for text in quarantine["record"].to_list():
        record = json.loads(text)
        lines.append(record.pop(LINE, None))
        record.pop(FILE, None)
        records.append(json.dumps(record, sort_keys=True, default=str))
    return pl.DataFrame(
        {LINE: lines, "field": quarantine["field"], "reason": quarantine["reason"], "record": records},
        schema={k: v for k, v in QUARANTINE_COLUMNS.items() if k != FILE},
    )


def import_files(
    table: str,
    paths: Iterable[str | Path],
    one_file: Any,
) -> FileImport:
    """Run `one_file(path) -> FileImport` for each path; a file that fails never stops the others."""
    parts: list[FileImport] = []
    for p in paths:
        path = Path(p)
        try:
            parts.append(one_file(path))
        except FileImportError as exc:
            parts.append(FileImport(table, empty_rows(table), empty_quarantine(), [exc]))
        except OSError as exc:
            error = FileImportError(path, f"unreadable file: {exc.strerror or exc}")
            parts.append(FileImport(table, empty_rows(table), empty_quarantine(), [error]))
    return FileImport.combine(table, parts)


def as_of_for(path: Path, default: date | datetime | None) -> date | datetime | None:
    """Nothing in a file may lie after the end of its drop day (+1 day: local days run past UTC midnight)."""
    day = drop_day(path)
    return default if day is None else day + timedelta(days=1)


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).replace("\n", " ").strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
