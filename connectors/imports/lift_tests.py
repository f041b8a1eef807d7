"""Lift-test read-outs from the measurement vendor's CSV drops -> raw.lift_tests.

A drop (`<inbox>/lift_tests/<tenant>/<readout day>.csv`, written by `connectors.sandbox.experiments` in
the sandbox) has one row per experiment and KPI: test_id, channel, method (geo | holdout | scale), kpi
(revenue | conversions), start_date, end_date (ISO dates, the test's first and last day),
incremental (what the channel caused over the test, in KPI units: the tenant's currency for revenue,
a count for conversions), standard_error (the vendor's stated precision, > 0) and, optionally,
treatment_spend_scale and control_spend_scale: the test compared the channel at treatment x its
business-as-usual spend against control x it ("+50 %" scale test: 1.5 / 1.0, "-50 %": 1.0 / 0.5).
A file without those columns is a file of holdouts: they default to 1.0 / 0.0 (`DEFAULT_SCALES`);
a file with them must fill them on every row. All of the others but method are required.

Beyond the shared gates of `connectors.imports.core` (parse, contract: known kpi and method, no date
after the drop day, one row per (test_id, kpi)), a row is rejected with file, line, field and reason
when its end_date lies before its start_date, its standard_error is 0, a spend scale is empty (in a
file that has the column), negative or not finite, or its treatment scale equals its control scale
(a test that changes nothing measures nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import polars as pl

from connectors.imports.core import (
    DEFAULT_LOCALE,
    DEFAULT_READ,
    LINE,
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

TABLE = "lift_tests"
SPECS: dict[str, ColumnSpec] = {
    "test_id": ColumnSpec("string", "test_id", required=True),
    "channel": ColumnSpec("string", "channel", required=True),
    "method": ColumnSpec("string", "method"),
    "kpi": ColumnSpec("string", "kpi", required=True),
    "start_date": ColumnSpec("date", "start_date", required=True),
    "end_date": ColumnSpec("date", "end_date", required=True),
    "incremental": ColumnSpec("float", "incremental", required=True),
    "standard_error": ColumnSpec("float", "standard_error", required=True),
    "treatment_spend_scale": ColumnSpec("float", "treatment_spend_scale"),
    "control_spend_scale": ColumnSpec("float", "control_spend_scale"),
}
# A holdout or geo test: the channel at its business-as-usual spend against the channel off.
DEFAULT_SCALES: dict[str, float] = {"treatment_spend_scale": 1.0, "control_spend_scale": 0.0}
REQUIRED_COLUMNS = ("test_id", "channel", "kpi", "start_date", "end_date", "incremental", "standard_error")


def import_lift_test_file(
    path: str | Path,
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
    locale: Locale = DEFAULT_LOCALE,
) -> FileImport:
    """One drop; raises FileImportError when the file cannot be used at all (missing, empty, a required
    column absent). Nothing may be dated after the drop day in the file name (else `as_of`)."""
    path = Path(path)
    rows = read_rows(path, read, [s.source for s in SPECS.values()], REQUIRED_COLUMNS)
    typed, rejects = convert_columns(rows, SPECS, locale)
    typed = typed.with_columns(
        pl.col("channel").str.strip_chars().str.to_lowercase(),
        pl.col("kpi").str.strip_chars().str.to_lowercase(),
        pl.col("method").str.strip_chars().str.to_lowercase(),
    )
    given = rows.frame.columns
    typed = typed.with_columns(
        pl.lit(default, dtype=pl.Float64).alias(name)
        for name, default in DEFAULT_SCALES.items()
        if name not in given
    )
    checks = [
        (pl.col("end_date") < pl.col("start_date"), "end_date", "end_date: before start_date"),
        (pl.col("standard_error") == 0, "standard_error", "standard_error: must be > 0"),
    ]
    for name in DEFAULT_SCALES:
        checks += [
            (pl.col(name).is_null(), name, f"{name}: must not be empty (leave the column out for holdouts)"),
            (~pl.col(name).is_finite(), name, f"{name}: must be a finite number"),
            (pl.col(name) < 0, name, f"{name}: must be >= 0"),
        ]
    checks.append(
        (
            pl.col("treatment_spend_scale") == pl.col("control_spend_scale"),
            "treatment_spend_scale,control_spend_scale",
            "treatment_spend_scale: equals control_spend_scale (the test changes no spend)",
        )
    )
    for condition, field, reason in checks:
        typed, rejects = reject_where(typed, rejects, condition, field, reason)
    return finish_file(
        TABLE,
        path,
        typed,
        rejects.sort(LINE),
        {"tenant_id": tenant_id},
        as_of=as_of_for(path, as_of),
        warnings=rows.warnings,
    )


def import_lift_test_files(
    paths: Iterable[str | Path],
    *,
    tenant_id: str,
    as_of: date | datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
) -> FileImport:
    """Every drop; an unreadable one is reported in `errors` and never stops the others."""
    return import_files(
        TABLE, paths, lambda p: import_lift_test_file(p, tenant_id=tenant_id, as_of=as_of, read=read)
    )
