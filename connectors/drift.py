"""What real API answers do to a parser, made visible: schema drift, numbers sent as text, duplicates.

Parsers never silently null a value or drop a row. They report:
- `DriftEvent`s (`new_column`, `missing_column`, `type_changed`) in a `ParseReport` the client keeps, so
  pipelines/ writes them to `ops.schema_drift` and into asset metadata;
- row issues: a row whose required field is absent, or whose number cannot be read in exactly one way,
  is marked with `QUARANTINE_FIELD` / `QUARANTINE_REASON` columns (added to the frame only when some row
  has an issue); pipelines/ sends those rows to `ops.quarantine` with the reason instead of loading them;
- `duplicates`: rows repeated across pages (dropped by whoever de-duplicates, counted here).

Numbers: `read_number` accepts a plain number, or text with thousands separators ("1,234.50",
"1.234,50", "12,345"), and returns it only when every reading that fits the column (integer, money at 2
decimals, or any float) gives the same value: "1,234" in a float column (1234 or 1.234) is ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import polars as pl

from connectors.contracts import decimal_column, int_column

QUARANTINE_FIELD = "_quarantine_field"
QUARANTINE_REASON = "_quarantine_reason"
DriftKind = Literal["new_column", "missing_column", "type_changed"]
NumberKind = Literal["int", "money", "float"]


@dataclass(frozen=True)
class DriftEvent:
    kind: DriftKind
    column: str
    detail: str


@dataclass
class ParseReport:
    """What the parsers of one client noticed; pipelines/ drains it after each load (`take`)."""

    drift: list[DriftEvent] = field(default_factory=list)
    duplicates: int = 0

    def add(self, kind: DriftKind, column: str, detail: str) -> None:
        event = DriftEvent(kind, column, detail)
        if event not in self.drift:
            self.drift.append(event)

    def take(self) -> tuple[list[DriftEvent], int]:
        drift, duplicates = self.drift, self.duplicates
        self.drift, self.duplicates = [], 0
        return drift, duplicates


class RowIssues:
    """Per-row quarantine reasons collected while building a frame's columns."""

    def __init__(self) -> None:
        self._issues: dict[int, tuple[str, str]] = {}

    def add(self, index: int, column: str, reason: str) -> None:
        self._issues.setdefault(index, (column, reason))  # the first problem of a row names it

    def __len__(self) -> int:
        return len(self._issues)

    def mark(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` plus the quarantine columns when any row has an issue (else unchanged)."""
        if not self._issues:
            return frame
        fields = [None] * frame.height
        reasons = [None] * frame.height
        for index, (column, reason) in self._issues.items():
            fields[index], reasons[index] = column, reason
        return frame.with_columns(
            pl.Series(QUARANTINE_FIELD, fields, dtype=pl.String),
            pl.Series(QUARANTINE_REASON, reasons, dtype=pl.String),
        )


def missing_fields(
    rows: Sequence[Any],
    required: Iterable[tuple[str, ...]],
    *,
    source: str,
    report: ParseReport | None,
    issues: RowIssues,
) -> None:
    """Rows lacking a required field (absent, not null) are marked; the drift is reported once."""
    for path in required:
        mark_absent(".".join(path), _absent(rows, path), source=source, report=report, issues=issues)


def mark_absent(
    name: str, absent: Sequence[int], *, source: str, report: ParseReport | None, issues: RowIssues
) -> None:
    """Mark the rows at `absent` (indexes) as lacking the required field `name` and report the drift
    once; nothing when `absent` is empty. `missing_fields` for callers that find the rows themselves
    (page by page, with `absent_rows`)."""
    if not absent:
        return
    for i in absent:
        issues.add(i, name, f"{source}: field {name} absent from the platform's answer (schema drift)")
    if report is not None:
        report.add("missing_column", name, f"{source}: {len(absent)} row(s) without {name}")


def absent_rows(rows: Sequence[Any], path: tuple[str, ...]) -> list[int]:
    """Indexes of the rows without the field at `path` (absent, not null)."""
    return _absent(rows, path)


def new_fields(
    keys: Iterable[str], expected: Iterable[str], *, source: str, report: ParseReport | None
) -> list[str]:
    """Fields the platform sent that nobody asked for: kept in the landed page, reported here."""
    unexpected = sorted(set(keys) - set(expected))
    if report is not None:
        for name in unexpected:
            report.add("new_column", name, f"{source}: unexpected field {name} (kept in the landing zone)")
    return unexpected


def row_keys(rows: Iterable[Mapping[str, Any]], nested: Iterable[str] = ()) -> set[str]:
    """Every key of the rows; for the keys in `nested`, the keys one level down as `parent.child`."""
    keys: set[str] = set()
    inner = set(nested)
    # Nested objects of a page share a handful of key sets: collect those, name `parent.child` once.
    shapes: dict[str, set[tuple[Any, ...]]] = {parent: set() for parent in inner}
    for row in rows:
        keys.update(row.keys())
        for parent in inner:
            child = row.get(parent)
            if type(child) is dict or isinstance(child, Mapping):
                shapes[parent].add(tuple(child))
    for parent, found in shapes.items():
        for shape in found:
            keys.update(f"{parent}.{k}" for k in shape)
    return keys


_PLAIN = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_COMMA_GROUPS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DOT_GROUPS = re.compile(r"^-?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def read_number(value: Any, kind: NumberKind) -> tuple[Decimal | None, str | None]:
    """(value, None) when `value` reads as exactly one number fitting `kind`; (None, reason) otherwise.
    None/"" gives (None, None): absent is not an error here (contracts decide what is required)."""
    if value is None or value == "":
        return None, None
    if isinstance(value, bool):
        return None, f"{value!r} is not a number"
    if isinstance(value, int):
        return Decimal(value), None
    if isinstance(value, float):
        return Decimal(repr(value)), None
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if _PLAIN.match(text):  # a plain number means what it says, never a grouped reading
        number = Decimal(text)
        if _fits(number, kind):
            return number, None
        return None, f"{text!r} is not a {_KIND_NAME[kind]}"
    readings: set[Decimal] = set()
    candidates = []
    if _COMMA_GROUPS.match(text):
        candidates.append(text.replace(",", ""))
    if _DOT_GROUPS.match(text):
        candidates.append(text.replace(".", "").replace(",", "."))
    if _DECIMAL_COMMA.match(text):
        candidates.append(text.replace(",", "."))
    for candidate in candidates:
        try:
            number = Decimal(candidate)
        except InvalidOperation:  # pragma: no cover - the patterns only pass numbers
            continue
        if _fits(number, kind):
            readings.add(number)
    if len(readings) == 1:
        return readings.pop(), None
    if not readings:
        return None, f"text {text!r} is not a {_KIND_NAME[kind]}"
    options = " or ".join(sorted(str(r) for r in readings))
    return None, f"text number {text!r} is ambiguous ({options})"


_KIND_NAME = {"int": "whole number", "money": "money amount (2 decimals)", "float": "number"}


def _fits(number: Decimal, kind: NumberKind) -> bool:
    if kind == "int":
        return number == number.to_integral_value()
    if kind == "money":
        return number == number.quantize(Decimal("0.01"))
    return True


def number_column(
    name: str,
    values: list[Any],
    kind: NumberKind,
    *,
    source: str,
    report: ParseReport | None,
    issues: RowIssues,
    field_name: str | None = None,
) -> pl.Series:
    """A numeric column as the raw dtype (Int64, Decimal(18,2), Float64), exact; values sent as text
    are read by `read_number` (reported as `type_changed`), unreadable ones marked for quarantine."""
    label = field_name or name
    text = _plain_text(values, kind)
    if text is not None:  # every value a plain string the raw dtype takes exactly: one vectorised cast
        return text.cast(pl.Int64 if kind == "int" else pl.Decimal(18, 2)).alias(name)
    plain = _all_plain(values, kind)
    if not plain:
        fixed: list[Any] = []
        changed = 0
        for i, value in enumerate(values):
            if value is None or _is_plain(value, kind):
                fixed.append(value)
                continue
            number, reason = read_number(value, kind)
            if reason is not None:
                issues.add(i, label, f"{source}: {label} {reason}")
                fixed.append(None)
                continue
            changed += 1
            fixed.append(_canonical(number, kind))
        if changed and report is not None:
            report.add("type_changed", label, f"{source}: {label} sent as formatted text; read exactly")
        values = fixed
    if kind == "int":
        return int_column(name, values)
    if kind == "money":
        return decimal_column(name, values)
    return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)


def _is_plain(value: Any, kind: NumberKind) -> bool:
    if kind == "float":  # a JSON number; text where a number belongs is drift, even "12.3"
        return type(value) in (float, int)
    if type(value) is int:
        return True
    return type(value) is str and _PLAIN.match(value) is not None and _fits(Decimal(value), kind)


_PLAIN_TEXT = {"int": r"^-?[0-9]{1,18}$", "money": r"^-?[0-9]{1,16}(?:\.[0-9]{1,2})?$"}


def _plain_text(values: list[Any], kind: NumberKind) -> pl.Series | None:
    """The values as a String Series when each is None or a plain integer / money string that casts to
    Int64 / Decimal(18,2) exactly (checked vectorised); None otherwise."""
    pattern = _PLAIN_TEXT.get(kind)
    if pattern is None or not all(v is None or type(v) is str for v in values):
        return None
    text = pl.Series(values, dtype=pl.String)
    ok = text.str.contains(pattern)
    return text if ok.null_count() == text.null_count() and ok.all() else None


def _all_plain(values: list[Any], kind: NumberKind) -> bool:
    if kind == "float":
        return all(v is None or type(v) is float or type(v) is int for v in values)
    if all(v is None or type(v) is str for v in values):
        return _plain_text(values, kind) is not None
    return all(v is None or _is_plain(v, kind) for v in values)


def _canonical(number: Decimal | None, kind: NumberKind) -> Any:
    if number is None:
        return None
    if kind == "int":
        return str(int(number))
    if kind == "money":
        return str(number.quantize(Decimal("0.01")))
    return float(number)


def _absent(rows: Sequence[Any], path: tuple[str, ...]) -> list[int]:
    """`[i for i, row in enumerate(rows) if not _has(row, path)]`, without an ABC isinstance per row
    for the usual shapes (JSON objects decode to dicts)."""
    if len(path) == 1:
        (key,) = path
        if all(type(row) is dict and key in row for row in rows):
            return []
    elif len(path) == 2:
        outer, key = path
        if all(type(row) is dict and type(inner := row.get(outer)) is dict and key in inner for row in rows):
            return []
    return [i for i, row in enumerate(rows) if not _has(row, path)]


def _has(row: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not (type(row) is dict or isinstance(row, Mapping)) or key not in row:
            return False
        row = row[key]
    return True


def check_rows(
    rows: Sequence[Any],
    *,
    source: str,
    report: ParseReport | None,
    expected: Iterable[str] | None = None,
    nested: Iterable[str] = (),
    required: Iterable[tuple[str, ...]] = (),
    numbers: Mapping[tuple[str, ...], NumberKind] | None = None,
    text_numbers: Mapping[tuple[str, ...], NumberKind] | None = None,
) -> RowIssues:
    """The drift checks in one call, for parsers that read row dicts before building their frame.

    - `expected`: the fields (and `parent.child` for the parents in `nested`) a row may carry; others
      are reported `new_column` (None: not checked);
    - `required`: a row without one of these paths is marked for quarantine (`missing_column`);
    - `numbers` (sent as JSON numbers) / `text_numbers` (sent as plain numeric text, e.g. TikTok's
      metrics): a value sent as formatted text ("1,234.50", "1.234,50"; for `numbers` any text) is read
      exactly (`read_number`), written back into the row as the plain wire form, and reported
      `type_changed`; a value that reads two ways (or not at all) is set to None and the row marked.
    Returns the row issues: `issues.mark(frame)` on the frame built from `rows` (same order) adds the
    quarantine columns."""
    issues = RowIssues()
    if expected is not None:
        new_fields(row_keys(rows, nested), expected, source=source, report=report)
    missing_fields(rows, required, source=source, report=report, issues=issues)
    for specs, as_text in ((numbers or {}, False), (text_numbers or {}, True)):
        for path, kind in specs.items():
            label = ".".join(path)
            changed = 0
            for i, row in enumerate(rows):
                if not _has(row, path):
                    continue
                parent = row
                for key in path[:-1]:
                    parent = parent[key]
                value = parent[path[-1]]
                if value is None or type(value) in (int, float):
                    continue
                if type(value) is str and as_text and _PLAIN.match(value) and _fits(Decimal(value), kind):
                    continue
                number, reason = read_number(value, kind)
                if reason is not None:
                    issues.add(i, label, f"{source}: {label} {reason}")
                    parent[path[-1]] = None
                    continue
                if number is None:
                    continue
                changed += 1
                parent[path[-1]] = _text_number(number, kind) if as_text else _wire_number(number, kind)
            if changed and report is not None:
                report.add("type_changed", label, f"{source}: {label} sent as formatted text; read exactly")
    return issues


def _text_number(number: Decimal, kind: NumberKind) -> str:
    if kind == "int":
        return str(int(number))
    if kind == "money":
        return str(number.quantize(Decimal("0.01")))
    return str(number)


def _wire_number(number: Decimal, kind: NumberKind) -> Any:
    if kind == "int":
        return int(number)
    if kind == "money":
        return str(number.quantize(Decimal("0.01")))
    return float(number)


def latest_per_key(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """One row per `key`, the last one read; rows marked for quarantine are all kept as they are (the
    missing field may be part of the key: collapsing them would lose records silently)."""
    if QUARANTINE_REASON not in frame.columns:
        return frame.unique(subset=key, keep="last", maintain_order=True)
    marked = pl.col(QUARANTINE_REASON).is_not_null()
    good = frame.filter(~marked).unique(subset=key, keep="last", maintain_order=True)
    return pl.concat([good, frame.filter(marked)], how="vertical")
