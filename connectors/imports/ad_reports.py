"""Generic mapped import of exported ad reports -> raw.imported_ad_reports.

For a platform whose API we cannot use (no access, no developer token), an analyst exports a report
from the platform's UI and drops it into `<inbox>/ad_reports/<tenant_id>/`. A mapping, declared in YAML
(`config/imports/<name>.yml`), says how to read that export:

```yaml
name: linkedin_campaign_manager_de        # stored in raw.imported_ad_reports.mapping
file_pattern: "linkedin_campaign_manager_*.csv"   # glob on the file name; the name carries the drop day
tenants: [bellavista]                     # optional: only these tenants' folders
format: csv                               # csv | parquet (default: from the suffix)
encoding: utf-8-sig                       # any Python codec; a UTF-8 BOM is always accepted
delimiter: ";"
decimal: ","                              # 1.234,56
thousands: "."
date_format: "%d.%m.%Y"                   # strftime codes
skip_rows: 5                              # report metadata lines before the header
columns:                                  # raw column: header in the file
  date: "Startdatum (in UTC)"
  spend: "Ausgegebener Gesamtbetrag"
  ...
constants:                                # raw column: fixed value for every row
  platform: linkedin
```

Required raw columns (from `columns` or `constants`): platform, account_id, date, campaign_id,
currency, spend, impressions, clicks; the names, ad group/ad ids, conversions and conversion value are
optional. A mapping that is wrong says which YAML file and key (`MappingError`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from connectors.contracts import RAW_COLUMNS
from connectors.errors import FileImportError
from connectors.imports.core import (
    DEFAULT_LOCALE,
    DEFAULT_READ,
    ColumnSpec,
    FileImport,
    Kind,
    Locale,
    ReadOptions,
    as_of_for,
    convert_columns,
    finish_file,
    import_files,
    read_rows,
)

TABLE = "imported_ad_reports"
REQUIRED = ("platform", "account_id", "date", "campaign_id", "currency", "spend", "impressions", "clicks")
OPTIONAL = (
    "campaign_name",
    "ad_group_id",
    "ad_group_name",
    "ad_id",
    "ad_name",
    "conversions",
    "conversion_value",
)
KINDS: dict[str, Kind] = {
    "date": "date",
    "spend": "money",
    "conversion_value": "money",
    "impressions": "int",
    "clicks": "int",
    "conversions": "float",
}
_KEYS = {
    "name",
    "description",
    "file_pattern",
    "tenants",
    "format",
    "encoding",
    "delimiter",
    "decimal",
    "thousands",
    "date_format",
    "skip_rows",
    "columns",
    "constants",
}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ReportMapping:
    name: str
    file_pattern: str
    columns: dict[str, str]
    constants: dict[str, str] = field(default_factory=dict)
    tenants: tuple[str, ...] | None = None
    format: str | None = None
    read: ReadOptions = DEFAULT_READ
    locale: Locale = DEFAULT_LOCALE
    description: str = ""
    source: str = ""  # the YAML file it came from

    def applies_to(self, tenant_id: str, path: str | Path) -> bool:
        if self.tenants is not None and tenant_id not in self.tenants:
            return False
        return fnmatch.fnmatch(Path(path).name, self.file_pattern)

    def specs(self) -> dict[str, ColumnSpec]:
        return {
            name: ColumnSpec(KINDS.get(name, "string"), header, required=name in REQUIRED)
            for name, header in self.columns.items()
        }


def load_mapping(path: str | Path) -> ReportMapping:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read the mapping ({exc})") from None
    if not isinstance(doc, dict):
        raise MappingError(f"{path}: expected a mapping (key: value) at the top level")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise MappingError(f"{path}: unknown key(s) {unknown}; expected some of {sorted(_KEYS)}")

    def text(key: str, default: str | None = None) -> str | None:
        value = doc.get(key, default)
        if value is not None and not isinstance(value, str):
            raise MappingError(f"{path}: {key} must be text, got {type(value).__name__}")
        return value

    name = text("name")
    pattern = text("file_pattern")
    if not name or not pattern:
        raise MappingError(f"{path}: 'name' and 'file_pattern' are required")
    columns = doc.get("columns") or {}
    constants = doc.get("constants") or {}
    for key, value in (("columns", columns), ("constants", constants)):
        if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
            raise MappingError(f"{path}: {key} must map raw column names to text")
    mappable = set(REQUIRED) | set(OPTIONAL)
    for key, value in (("columns", columns), ("constants", constants)):
        bad = sorted(set(value) - mappable)
        if bad:
            raise MappingError(
                f"{path}: {key}: unknown raw column(s) {bad}; raw.{TABLE} takes {sorted(mappable)}"
            )
    both = sorted(set(columns) & set(constants))
    if both:
        raise MappingError(f"{path}: {both} mapped both as a column and as a constant")
    missing = [c for c in REQUIRED if c not in columns and c not in constants]
    if missing:
        raise MappingError(
            f"{path}: required raw column(s) {missing} are neither in 'columns' nor 'constants'"
        )
    bad_constants = sorted(c for c in constants if KINDS.get(c, "string") != "string")
    if bad_constants:
        raise MappingError(f"{path}: constants: {bad_constants} must come from a column")
    tenants = doc.get("tenants")
    if tenants is not None and (
        not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants)
    ):
        raise MappingError(f"{path}: tenants must be a list of tenant ids")
    fmt = text("format")
    if fmt not in (None, "csv", "parquet"):
        raise MappingError(f"{path}: format must be csv or parquet, got {fmt!r}")
    skip = doc.get("skip_rows", 0)
    if not isinstance(skip, int) or skip < 0:
        raise MappingError(f"{path}: skip_rows must be a whole number >= 0")
    delimiter = text("delimiter", ",") or ","
    decimal = text("decimal", ".") or "."
    thousands = text("thousands")
    if len(delimiter) != 1 or decimal in (thousands, delimiter):
        raise MappingError(f"{path}: delimiter must be one character, distinct from the decimal separator")
    return ReportMapping(
        name=name,
        file_pattern=pattern,
        columns={str(k): str(v) for k, v in columns.items()},
        constants={str(k): str(v) for k, v in constants.items()},
        tenants=tuple(tenants) if tenants is not None else None,
        format=fmt,
        read=ReadOptions(encoding=text("encoding", "utf-8") or "utf-8", delimiter=delimiter, skip_rows=skip),
        locale=Locale(
            decimal=decimal, thousands=thousands, date_format=text("date_format", "%Y-%m-%d") or ""
        ),
        description=text("description", "") or "",
        source=str(path),
    )


def load_mappings(directory: str | Path) -> list[ReportMapping]:
    """Every `*.yml`/`*.yaml` mapping in `directory`, sorted by name; names must be unique."""
    directory = Path(directory)
    paths = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]) if directory.is_dir() else []
    mappings = [load_mapping(p) for p in paths]
    seen: dict[str, str] = {}
    for m in mappings:
        if m.name in seen:
            raise MappingError(f"{m.source}: mapping name {m.name!r} is already used by {seen[m.name]}")
        seen[m.name] = m.source
    return sorted(mappings, key=lambda m: m.name)


def mapping_for(mappings: Iterable[ReportMapping], tenant_id: str, path: str | Path) -> ReportMapping | None:
    """The first mapping (by name) whose tenants and file pattern match."""
    return next((m for m in mappings if m.applies_to(tenant_id, path)), None)


def import_ad_report_file(
    path: str | Path,
    mapping: ReportMapping,
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
) -> FileImport:
    """One exported report through its mapping; raises FileImportError when unusable as a whole."""
    path = Path(path)
    specs = mapping.specs()
    required_headers = [s.source for n, s in specs.items() if n in REQUIRED]
    rows = read_rows(path, mapping.read, [s.source for s in specs.values()], required_headers)
    typed, rejects = convert_columns(rows, specs, mapping.locale)
    if "currency" in typed.columns:
        typed = typed.with_columns(typed["currency"].str.to_uppercase())
    constants: Mapping[str, Any] = {**mapping.constants, "tenant_id": tenant_id, "mapping": mapping.name}
    return finish_file(
        TABLE, path, typed, rejects, constants, as_of=as_of_for(path, as_of), warnings=rows.warnings
    )


def import_ad_report_files(
    paths: Iterable[str | Path],
    mappings: Iterable[ReportMapping],
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
) -> FileImport:
    """Each file through the first mapping that matches it; a file no mapping matches is an error."""
    mappings = list(mappings)

    def one(path: Path) -> FileImport:
        mapping = mapping_for(mappings, tenant_id, path)
        if mapping is None:
            names = ", ".join(f"{m.name} ({m.file_pattern})" for m in mappings) or "none"
            raise FileImportError(path, f"no import mapping matches this file (mappings: {names})")
        return import_ad_report_file(path, mapping, tenant_id=tenant_id, as_of=as_of)

    return import_files(TABLE, paths, one)


assert set(REQUIRED) | set(OPTIONAL) | {"tenant_id", "mapping"} == set(RAW_COLUMNS[TABLE])
