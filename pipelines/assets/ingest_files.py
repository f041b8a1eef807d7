"""File-drop ingest assets: offline conversions, erasure requests (+ the erasure step), exported ad reports,
lift-test read-outs.

Each is daily-partitioned by **drop day**: a partition reads the files of its days from
`<inbox>/<folder>/<tenant_id>/` (the file name carries the drop day, `YYYY-MM-DD`), copies each into the
landing zone first, imports it (`connectors.imports`), and replaces the (tenant, source, drop day) slice of
its raw table for every file it could read, quarantine included, in one transaction; a file that
could not be read keeps the rows an earlier run loaded for its day. Re-running a partition leaves the
warehouse as it was. Rows are tagged `_partition` = drop day, `_source` = the inbox file; rejected rows go
to `ops.quarantine` with the file in `_source` and the line in the record (`_line`).

In the sandbox the assets first export the world's weekly drops for their days into the inbox (what the
point-of-sale system, the privacy desk, the analyst with the LinkedIn export and the measurement vendor
do in real life).

`raw/erasure_requests` runs after contacts, touchpoints and offline conversions were loaded, then erases
everyone its requests name (`pipelines/privacy.py`); dbt reads raw after it.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from connectors.imports.core import FILE, LINE, FileImport, drop_day
from pipelines.assets.ingest import INGEST_RETRY, partition_days
from pipelines.resources import PlatformsResource, WarehouseResource
from pipelines.settings import REPO_ROOT
from pipelines.warehouse import LoadMeta, log_load, replace_slices

MAPPINGS_DIR = REPO_ROOT / "config" / "imports"


@dataclass
class DropLoad:
    """What loading one source's drops did, over every tenant."""

    rows_loaded: int = 0
    rows_quarantined: int = 0
    files: int = 0
    unreadable: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # quarantined rows, `file:line: reason`
    reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def mappings_dir() -> Path:
    """Where the ad-report mappings live: `MOS_IMPORT_MAPPINGS`, else the repo's config/imports."""
    return Path(os.environ.get("MOS_IMPORT_MAPPINGS") or MAPPINGS_DIR)


def drop_files(folder: Path, days: list[date]) -> list[Path]:
    """The files in `folder` whose name carries one of `days` (hidden and temporary files skipped)."""
    if not folder.is_dir():
        return []
    wanted = set(days)
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and drop_day(p) in wanted
    )


def load_drops(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platforms: PlatformsResource,
    *,
    table: str,
    folder: str,
    importer: Callable[[list[Path], str], FileImport],
    export: Callable[[list[date], Path, str], None] | None = None,
    keep: Callable[[object, str, pl.DataFrame], pl.DataFrame] | None = None,
) -> DropLoad:
    """The shared body of the file assets: export (sandbox), land, import, replace slices, log."""
    days = partition_days(context)
    inbox = Path(platforms.inbox_dir)
    home = inbox.parent
    total = DropLoad()
    landing = platforms.landing()
    for tenant in platforms.tenants():
        tenant_id = tenant.tenant_id
        if platforms.sandbox and export is not None:
            export(days, inbox, tenant_id)
        paths = drop_files(inbox / folder / tenant_id, days)
        for path in paths:
            landing.save_file(folder, tenant_id, path)
        imported = importer(paths, tenant_id)
        frame = imported.frame
        if keep is not None and frame.height:
            with warehouse.connect() as con:
                frame = keep(con, tenant_id, frame)
        meta = LoadMeta.now(context.run_id, table)
        refs = {str(p): _ref(p, home) for p in paths}
        parts = {str(p): (drop_day(p) or days[-1]).isoformat() for p in paths}
        good = frame.with_columns(
            pl.lit(meta.loaded_at, dtype=pl.Datetime("us")).alias("_loaded_at"),
            pl.lit(meta.run_id, dtype=pl.String).alias("_run_id"),
            pl.col(FILE).replace_strict(parts, return_dtype=pl.String).alias("_partition"),
            pl.col(FILE).replace_strict(refs, return_dtype=pl.String).alias("_source"),
        ).drop(FILE, LINE)
        quarantine = _quarantine_rows(imported.quarantine, tenant_id, table, parts, refs, meta)
        readable = sorted({parts[f] for f in imported.files})
        with warehouse.connect() as con:
            loaded = replace_slices(
                con,
                table,
                good,
                tenant_id=tenant_id,
                partitions=readable,
                source=table,
                quarantine=quarantine,
            )
            log_load(con, [_log_row(meta, tenant_id, readable, loaded, quarantine.height, len(paths))])
        total.rows_loaded += loaded
        total.rows_quarantined += quarantine.height
        total.files += len(paths)
        total.unreadable += [str(e) for e in imported.errors]
        total.problems += imported.messages()[len(imported.errors) :]
        total.warnings += imported.warnings
        for reason in quarantine["reason"].to_list():
            total.reasons[reason] = total.reasons.get(reason, 0) + 1
    for message in total.unreadable:
        context.log.error(message)
    for message in total.problems[:50]:
        context.log.warning(message)
    for message in total.warnings:
        context.log.warning(message)
    return total


def _ref(path: Path, home: Path) -> str:
    try:
        return str(path.relative_to(home))
    except ValueError:
        return str(path)


def _quarantine_rows(
    rejects: pl.DataFrame,
    tenant_id: str,
    source: str,
    parts: dict[str, str],
    refs: dict[str, str],
    meta: LoadMeta,
) -> pl.DataFrame:
    records = [
        json.dumps({**json.loads(r), LINE: n}, sort_keys=True)
        for r, n in zip(rejects["record"].to_list(), rejects[LINE].to_list(), strict=True)
    ]
    return pl.DataFrame(
        {
            "tenant_id": [tenant_id] * rejects.height,
            "source": [source] * rejects.height,
            "partition": [parts[f] for f in rejects[FILE].to_list()],
            "record": records,
            "field": rejects["field"],
            "reason": rejects["reason"],
            "_source": [refs[f] for f in rejects[FILE].to_list()],
            "_run_id": [meta.run_id] * rejects.height,
            "_loaded_at": [meta.loaded_at] * rejects.height,
        },
        schema={
            "tenant_id": pl.String,
            "source": pl.String,
            "partition": pl.String,
            "record": pl.String,
            "field": pl.String,
            "reason": pl.String,
            "_source": pl.String,
            "_run_id": pl.String,
            "_loaded_at": pl.Datetime("us"),
        },
    )


def _log_row(
    meta: LoadMeta, tenant_id: str, partitions: list[str], loaded: int, quarantined: int, files: int
):
    return {
        "run_id": meta.run_id,
        "tenant_id": tenant_id,
        "source": meta.source,
        "partition": f"{partitions[0]}..{partitions[-1]}" if partitions else "",
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "pages": files,
        "status": "ok" if quarantined == 0 else "ok_with_quarantine",
        "detail": None,
        "started_at": meta.loaded_at,
        "finished_at": datetime.now(UTC).replace(tzinfo=None),
    }


def _checks(key: list[str]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "rows_pass_contract", asset=key, description="Rejected rows went to ops.quarantine with a reason."
        ),
        dg.AssetCheckSpec(
            "files_readable", asset=key, description="Every drop file of the window could be read."
        ),
    ]


def _results(
    key: list[str], load: DropLoad, **extra: int
) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
    return [
        dg.MaterializeResult(
            asset_key=key,
            metadata={
                "rows_loaded": load.rows_loaded,
                "rows_quarantined": load.rows_quarantined,
                "files": load.files,
                "unreadable_files": len(load.unreadable),
                **extra,
            },
        ),
        dg.AssetCheckResult(
            asset_key=key,
            check_name="rows_pass_contract",
            passed=load.rows_quarantined == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_quarantined": load.rows_quarantined,
                "problems": "\n".join(load.problems[:20]),
                **{f"reason: {k}": v for k, v in sorted(load.reasons.items())[:20]},
            },
        ),
        dg.AssetCheckResult(
            asset_key=key,
            check_name="files_readable",
            passed=not load.unreadable,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rejected_files": len(load.unreadable), "errors": "\n".join(load.unreadable[:20])},
        ),
    ]


def _as_of(days: list[date]) -> date:
    return days[-1] + timedelta(days=1)


def build_file_ingest_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    daily = {
        "partitions_def": partitions,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "retry_policy": INGEST_RETRY,
        "group_name": "ingest",
    }

    @dg.asset(
        key=["raw", "offline_conversions"],
        kinds={"csv", "parquet", "duckdb"},
        check_specs=_checks(["raw", "offline_conversions"]),
        description="Store and phone purchases from weekly point-of-sale drops (emails SHA-256 hashed).",
        **daily,
    )
    def offline_conversions(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        from connectors.imports import import_offline_conversion_files

        days = partition_days(context)

        def export(days: list[date], inbox: Path, tenant_id: str) -> None:
            from connectors.sandbox.files import export_offline_conversions

            export_offline_conversions(platforms.state(), inbox, days[0], days[-1], tenants=[tenant_id])

        load = load_drops(
            context,
            warehouse,
            platforms,
            table="offline_conversions",
            folder="offline_conversions",
            importer=lambda paths, tenant_id: import_offline_conversion_files(
                paths, tenant_id=tenant_id, as_of=_as_of(days)
            ),
            export=export,
            keep=without_erased_people,
        )
        yield from _results(["raw", "offline_conversions"], load)

    @dg.asset(
        key=["raw", "imported_ad_reports"],
        kinds={"csv", "duckdb"},
        check_specs=_checks(["raw", "imported_ad_reports"]),
        description="Ad reports exported from platform UIs, read through config/imports/*.yml mappings.",
        **daily,
    )
    def imported_ad_reports(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        from connectors.imports import import_ad_report_files, load_mappings

        days = partition_days(context)
        mappings = load_mappings(mappings_dir())

        def export(days: list[date], inbox: Path, tenant_id: str) -> None:
            from connectors.sandbox.files import export_ad_reports

            export_ad_reports(platforms.state(), inbox, days[0], days[-1], tenants=[tenant_id])

        load = load_drops(
            context,
            warehouse,
            platforms,
            table="imported_ad_reports",
            folder="ad_reports",
            importer=lambda paths, tenant_id: import_ad_report_files(
                paths, mappings, tenant_id=tenant_id, as_of=_as_of(days)
            ),
            export=export,
        )
        yield from _results(["raw", "imported_ad_reports"], load, mappings=len(mappings))

    @dg.asset(
        key=["raw", "erasure_requests"],
        kinds={"csv", "duckdb"},
        check_specs=_checks(["raw", "erasure_requests"]),
        deps=[
            dg.AssetKey(["raw", "hubspot_contacts"]),
            dg.AssetKey(["raw", "hubspot_deals"]),
            dg.AssetKey(["raw", "touchpoints"]),
            dg.AssetKey(["raw", "offline_conversions"]),
        ],
        description="Right-to-be-forgotten requests (emails hashed); then erases those people in raw.",
        **daily,
    )
    def erasure_requests(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        from connectors.imports import import_erasure_request_files
        from pipelines.privacy import apply_erasures

        days = partition_days(context)

        def export(days: list[date], inbox: Path, tenant_id: str) -> None:
            from connectors.sandbox.files import export_erasure_requests

            export_erasure_requests(platforms.state(), inbox, days[0], days[-1], tenants=[tenant_id])

        load = load_drops(
            context,
            warehouse,
            platforms,
            table="erasure_requests",
            folder="erasure_requests",
            importer=lambda paths, tenant_id: import_erasure_request_files(
                paths, tenant_id=tenant_id, as_of=_as_of(days)
            ),
            export=export,
        )
        erased: dict[str, int] = {}
        with warehouse.connect() as con:
            for tenant in platforms.tenants():
                outcome = apply_erasures(con, tenant.tenant_id, context.run_id)
                for table, n in outcome.deleted.items():
                    erased[table] = erased.get(table, 0) + n
        context.log.info(f"erasure: rows changed {erased}")
        yield from _results(
            ["raw", "erasure_requests"], load, **{f"erased: {k}": v for k, v in sorted(erased.items())}
        )

    @dg.asset(
        key=["raw", "lift_tests"],
        kinds={"csv", "duckdb"},
        check_specs=_checks(["raw", "lift_tests"]),
        description="Lift-test (geo / holdout experiment) read-outs from the measurement vendor's drops: "
        "channel, test period, measured incremental KPI and its standard error.",
        **daily,
    )
    def lift_tests(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        from connectors.imports import import_lift_test_files

        days = partition_days(context)

        def export(days: list[date], inbox: Path, tenant_id: str) -> None:
            from connectors.sandbox.experiments import export_lift_tests

            export_lift_tests(platforms.state(), inbox, days[0], days[-1], tenants=[tenant_id])

        load = load_drops(
            context,
            warehouse,
            platforms,
            table="lift_tests",
            folder="lift_tests",
            importer=lambda paths, tenant_id: import_lift_test_files(
                paths, tenant_id=tenant_id, as_of=_as_of(days)
            ),
            export=export,
        )
        yield from _results(["raw", "lift_tests"], load)

    return [offline_conversions, imported_ad_reports, erasure_requests, lift_tests]


def without_erased_people(con, tenant_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Offline conversions of people who already asked to be erased are never loaded again."""
    erased = con.execute(
        """select contact_id, email_sha256 from raw.erasure_requests where tenant_id = ?
           union all select contact_id, null from ops.erasure_suppression where tenant_id = ?""",
        [tenant_id, tenant_id],
    ).fetchall()
    ids = [contact for contact, _ in erased if contact]
    hashes = [email for _, email in erased if email]
    if not ids and not hashes:
        return frame
    gone = pl.col("contact_id").is_in(ids).fill_null(False) | pl.col("email_sha256").is_in(hashes).fill_null(
        False
    )
    return frame.filter(~gone)
