"""Ingest assets: platform APIs and file drops -> `raw.*` (DESIGN.md §3, §5).

Daily-partitioned sources run a whole partition range in one step (single-run backfill) and replace
each (tenant, source, day) slice; CRM is incremental by its modified-date cursor with merge on id;
entity snapshots and FX rates are replaced whole per tenant.

Ad platforms restate recent days: a run that reaches the newest day also re-pulls the source's look-back
window (settings: MOS_LOOKBACK_DAYS; Meta 28 days, others 7). Each request window is fetched and loaded
on its own: a window that still fails after the client's retries is logged in `ops.load_log` as
`failed`, keeps its previous rows, and fails the step loudly once the other windows are loaded.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from connectors.drift import DriftEvent
from pipelines.ingest import (
    LoadOutcome,
    chunked,
    day_range,
    load_daily_slices,
    load_snapshot,
    log_failed_load,
    merge_records,
    window_with_lookback,
)
from pipelines.resources import PlatformsResource, WarehouseResource
from pipelines.tenants import Tenant

INGEST_RETRY = dg.RetryPolicy(
    max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
REQUEST_WINDOW_DAYS = 31  # days per API request window: bounded pages for long backfills
META_ENTITIES = ("meta_ads_campaigns", "meta_ads_adsets", "meta_ads_ads")
GOOGLE_ENTITIES = ("google_ads_campaigns", "google_ads_ad_groups", "google_ads_ads")


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    window = context.partition_time_window
    return day_range(window.start.date(), (window.end - timedelta(days=1)).date())


def _contract_check(asset_key: list[str]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "rows_pass_contract",
        asset=asset_key,
        description="Rows failing the data contract went to ops.quarantine.",
    )


def _outcome_result(
    key: list[str], outcomes: list[LoadOutcome]
) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
    total = LoadOutcome(source=outcomes[0].source if outcomes else "", tenant_id="*")
    for outcome in outcomes:
        total.merge(outcome)
    metadata: dict[str, Any] = {
        "rows_loaded": total.rows_loaded,
        "rows_quarantined": total.rows_quarantined,
        "pages": total.pages,
        "partitions": total.partitions,
        "tenants": len(outcomes),
        "duplicates_dropped": total.duplicates,
        "schema_drift": len(total.drift),
    }
    if total.drift:
        metadata["schema_drift_columns"] = ", ".join(total.drift)
    return [
        dg.MaterializeResult(asset_key=key, metadata=metadata),
        dg.AssetCheckResult(
            asset_key=key,
            check_name="rows_pass_contract",
            passed=total.rows_quarantined == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_quarantined": total.rows_quarantined,
                **{f"reason: {k}": v for k, v in total.reasons.items()},
            },
        ),
    ]


def build_ingest_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    daily = {
        "partitions_def": partitions,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "retry_policy": INGEST_RETRY,
        "group_name": "ingest",
    }

    @dg.asset(
        key=["raw", "meta_ads_insights"],
        kinds={"meta", "duckdb"},
        check_specs=[_contract_check(["raw", "meta_ads_insights"])],
        description="Meta Ads insights, one row per ad and day (account currency, as reported).",
        **daily,
    )
    def meta_ads_insights(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        def fetch(client, first: date, last: date) -> tuple[pl.DataFrame, int]:
            pages = list(client.iter_insights_pages(first, last, level="ad"))
            return client.parse_insights(pages), len(pages)

        outcomes = _load_ad_platform_daily(
            context,
            warehouse,
            platforms,
            table="meta_ads_insights",
            source="meta_ads",
            accounts=lambda tenant: tenant.meta_accounts,
            client_for=platforms.meta,
            fetch=fetch,
            day_column="date_start",
        )
        yield from _outcome_result(["raw", "meta_ads_insights"], outcomes)

    @dg.asset(
        key=["raw", "google_ads_ad_stats"],
        kinds={"googleads", "duckdb"},
        check_specs=[_contract_check(["raw", "google_ads_ad_stats"])],
        description="Google Ads ad-level daily stats via searchStream (cost in micros).",
        **daily,
    )
    def google_ads_ad_stats(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        def fetch(client, first: date, last: date) -> tuple[pl.DataFrame, int]:
            return client.fetch_ad_stats(first, last), 1  # searchStream answers a window in one response

        outcomes = _load_ad_platform_daily(
            context,
            warehouse,
            platforms,
            table="google_ads_ad_stats",
            source="google_ads",
            accounts=lambda tenant: tenant.google_ads_customers,
            client_for=platforms.google_ads,
            fetch=fetch,
            day_column="date",
        )
        yield from _outcome_result(["raw", "google_ads_ad_stats"], outcomes)

    @dg.asset(
        key=["raw", "touchpoints"],
        kinds={"parquet", "duckdb"},
        check_specs=[
            _contract_check(["raw", "touchpoints"]),
            dg.AssetCheckSpec(
                "files_readable",
                asset=["raw", "touchpoints"],
                description="Every touchpoint file in the window could be read.",
            ),
        ],
        description="Web/app touchpoint events imported from daily file drops (Parquet or NDJSON).",
        **daily,
    )
    def touchpoints(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        from connectors.files import import_touchpoint_files

        days = partition_days(context)
        inbox = Path(platforms.inbox_dir)
        outcomes, rejected = [], []
        for tenant in platforms.tenants():
            if platforms.sandbox:
                _export_sandbox_touchpoints(platforms, tenant.tenant_id, days, inbox)
            folder = inbox / "touchpoints" / tenant.tenant_id
            paths = [
                p
                for d in days
                for p in sorted(folder.glob(f"{d.isoformat()}.*"))
                if not p.name.startswith(".")
            ]
            landing = platforms.landing()
            for path in paths:
                landing.save_file("touchpoints", tenant.tenant_id, path)
            imported = import_touchpoint_files(paths, tenant_id=tenant.tenant_id)
            for error in imported.errors:
                context.log.error(str(error))
                rejected.append(str(error))
            local_day = (
                pl.col("event_ts").dt.replace_time_zone("UTC").dt.convert_time_zone(tenant.timezone).dt.date()
            )
            # Days whose file was rejected keep their previous rows: only replace what was read.
            good_days = _days_of_files(list(imported.files))
            with warehouse.connect() as con:
                outcomes.append(
                    load_daily_slices(
                        con,
                        table="touchpoints",
                        source="touchpoints",
                        tenant_id=tenant.tenant_id,
                        days=good_days,
                        frame=imported.frame,
                        partition=local_day,
                        run_id=context.run_id,
                        source_ref=f"inbox/touchpoints/{tenant.tenant_id}",
                        pages=len(paths),
                        as_of=days[-1] + timedelta(days=1),
                    )
                )
        materialization, contract = _outcome_result(["raw", "touchpoints"], outcomes)
        yield materialization
        yield contract
        yield dg.AssetCheckResult(
            asset_key=["raw", "touchpoints"],
            check_name="files_readable",
            passed=not rejected,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rejected_files": len(rejected), "errors": "\n".join(rejected[:20])},
        )

    entity_specs = {
        "meta": [["raw", t] for t in META_ENTITIES],
        "google": [["raw", t] for t in GOOGLE_ENTITIES],
    }

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                k,
                kinds={"meta", "duckdb"},
                group_name="ingest",
                description="Current Meta entities (status, budgets, cost caps).",
            )
            for k in entity_specs["meta"]
        ],
        retry_policy=INGEST_RETRY,
    )
    def meta_ads_entities(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        today = _today(platforms)

        def fetch(client: Any) -> dict[str, Callable[[], pl.DataFrame]]:
            return {
                "meta_ads_campaigns": lambda: client.list_campaigns(snapshot_date=today),
                "meta_ads_adsets": client.list_adsets,
                "meta_ads_ads": client.list_ads,
            }

        totals = _load_entities(context, warehouse, platforms, META_ENTITIES,
                                lambda t: t.meta_accounts, platforms.meta, fetch)  # fmt: skip
        for table, rows in totals.items():
            yield dg.MaterializeResult(asset_key=["raw", table], metadata={"rows_loaded": rows})

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                k,
                kinds={"googleads", "duckdb"},
                group_name="ingest",
                description="Current Google Ads entities (status, budgets, target CPA).",
            )
            for k in entity_specs["google"]
        ],
        retry_policy=INGEST_RETRY,
    )
    def google_ads_entities(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        def fetch(client: Any) -> dict[str, Callable[[], pl.DataFrame]]:
            return {
                "google_ads_campaigns": client.list_campaigns,
                "google_ads_ad_groups": client.list_ad_groups,
                "google_ads_ads": client.list_ads,
            }

        totals = _load_entities(context, warehouse, platforms, GOOGLE_ENTITIES,
                                lambda t: t.google_ads_customers, platforms.google_ads, fetch)  # fmt: skip
        for table, rows in totals.items():
            yield dg.MaterializeResult(asset_key=["raw", table], metadata={"rows_loaded": rows})

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ["raw", "hubspot_contacts"],
                kinds={"hubspot", "duckdb"},
                group_name="ingest",
                description="HubSpot contacts, incremental by lastmodifieddate, merged on id.",
            ),
            dg.AssetSpec(
                ["raw", "hubspot_deals"],
                kinds={"hubspot", "duckdb"},
                group_name="ingest",
                description="HubSpot deals, incremental by hs_lastmodifieddate, merged on id.",
            ),
        ],
        retry_policy=INGEST_RETRY,
    )
    def hubspot_crm(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        from pipelines.warehouse import get_cursor, set_cursor

        outcomes: dict[str, list[LoadOutcome]] = {"hubspot_contacts": [], "hubspot_deals": []}
        for tenant in platforms.tenants():
            if not tenant.has_hubspot:
                continue
            for table, object_type in (("hubspot_contacts", "contacts"), ("hubspot_deals", "deals")):
                with warehouse.connect() as con:
                    cursor = get_cursor(con, tenant.tenant_id, table)
                with platforms.hubspot(tenant) as client:
                    live = _fetch_crm(client, object_type, cursor)
                    # Archived records leave every search and list: read them on their own, so the
                    # warehouse marks them archived instead of keeping a stale live version.
                    archived = _fetch_archived(client, object_type)
                    drift, duplicates = client.report.take()
                frame = pl.concat([live, archived], how="diagonal_relaxed")
                if frame.height == 0:
                    continue
                label = f"since {cursor or 'the beginning'}"
                with warehouse.connect() as con:
                    outcome = merge_records(
                        con,
                        table=table,
                        source=table,
                        tenant_id=tenant.tenant_id,
                        frame=frame,
                        run_id=context.run_id,
                        source_ref=f"landing/hubspot_{object_type}/{tenant.tenant_id}",
                        cursor_label=label,
                        drift=drift,
                        duplicates=duplicates,
                    )
                    if live.height and not outcome.rows_quarantined:
                        # Overlap the next window a little: records modified in the same millisecond.
                        # A load that quarantined records keeps the cursor: they are read again next run.
                        newest = live["lastmodifieddate"].max()
                        set_cursor(con, tenant.tenant_id, table, (newest - timedelta(seconds=1)).isoformat())
                outcomes[table].append(outcome)
        for table, outs in outcomes.items():
            total = LoadOutcome(source=table, tenant_id="*")
            for outcome in outs:
                total.merge(outcome)
            yield dg.MaterializeResult(
                asset_key=["raw", table],
                metadata={
                    "rows_merged": total.rows_loaded,
                    "rows_quarantined": total.rows_quarantined,
                    "duplicates_dropped": total.duplicates,
                    "schema_drift": len(total.drift),
                    **({"schema_drift_columns": ", ".join(total.drift)} if total.drift else {}),
                },
            )

    @dg.asset(
        key=["raw", "fx_rates"],
        kinds={"csv", "duckdb"},
        group_name="ingest",
        description="Daily FX rates to USD (the reporting currency), from a rates file.",
    )
    def fx_rates(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        from pipelines.warehouse import LoadMeta, replace_table_rows, with_load_meta

        path = Path(platforms.inbox_dir) / "fx_rates.csv"
        if platforms.sandbox:
            from connectors.sandbox.files import export_fx_rates

            export_fx_rates(platforms.state().world, path)
        frame = pl.read_csv(
            path, schema_overrides={"date": pl.Date, "currency": pl.Utf8, "rate_to_usd": pl.Float64}
        )
        missing = {"date", "currency", "rate_to_usd"} - set(frame.columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        frame = with_load_meta(
            frame.select("date", "currency", "rate_to_usd"),
            LoadMeta.now(context.run_id, "fx"),
            partition="all",
            source_ref="inbox/fx_rates.csv",
        )
        with warehouse.connect() as con:
            rows = replace_table_rows(con, "raw.fx_rates", frame)
        return dg.MaterializeResult(metadata={"rows": rows})

    return [
        meta_ads_insights,
        google_ads_ad_stats,
        touchpoints,
        meta_ads_entities,
        google_ads_entities,
        hubspot_crm,
        fx_rates,
    ]


def _load_ad_platform_daily(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platforms: PlatformsResource,
    *,
    table: str,
    source: str,
    accounts: Callable[[Tenant], Sequence[str]],
    client_for: Callable[[Tenant, str], Any],
    fetch: Callable[[Any, date, date], tuple[pl.DataFrame, int]],
    day_column: str,
) -> list[LoadOutcome]:
    """Every tenant's accounts, one bounded request window at a time, each window one slice replacement.

    All of a tenant's accounts are gathered for a window first: the slice is (tenant, source, day), so
    loading one account at a time would delete the others' rows. A window that fails is logged and
    left as it was; the others load; then the step fails naming every failed window.
    """
    days = _days_with_lookback(context, platforms, source)
    outcomes, failed = [], []
    for tenant in platforms.tenants():
        if not accounts(tenant):
            continue
        tenant_outcome = LoadOutcome(source=source, tenant_id=tenant.tenant_id)
        for first, last in chunked(days, REQUEST_WINDOW_DAYS):
            window = day_range(first, last)
            label = f"{first.isoformat()}..{last.isoformat()}"
            started = datetime.now(UTC).replace(tzinfo=None)
            try:
                frames, pages, drift, duplicates = [], 0, [], 0
                for account in accounts(tenant):
                    with client_for(tenant, account) as client:
                        frame, n_pages = fetch(client, first, last)
                        events, repeated = client.report.take()
                    frames.append(frame)
                    pages += n_pages
                    drift += [e for e in events if e not in drift]
                    duplicates += repeated
                with warehouse.connect() as con:
                    outcome = load_daily_slices(
                        con,
                        table=table,
                        source=source,
                        tenant_id=tenant.tenant_id,
                        days=window,
                        frame=pl.concat(frames, how="diagonal_relaxed"),
                        partition=pl.col(day_column),
                        run_id=context.run_id,
                        source_ref=f"landing/{table}/{tenant.tenant_id}",
                        pages=pages,
                        as_of=last,
                        drift=drift,
                        duplicates=duplicates,
                    )
            except Exception as exc:  # this window only: the others still load
                context.log.error(f"{source} {tenant.tenant_id} {label} failed: {exc}")
                with warehouse.connect() as con:
                    log_failed_load(
                        con,
                        run_id=context.run_id,
                        tenant_id=tenant.tenant_id,
                        source=source,
                        label=label,
                        error=exc,
                        started_at=started,
                    )
                failed.append(f"{tenant.tenant_id} {label}: {type(exc).__name__}: {exc}")
                continue
            tenant_outcome.merge(outcome)
        outcomes.append(tenant_outcome)
    if failed:
        raise dg.Failure(
            description=f"{source}: {len(failed)} window(s) failed and kept their previous rows",
            metadata={"failed_windows": "\n".join(failed)[:4000]},
        )
    return outcomes


def _days_with_lookback(
    context: dg.AssetExecutionContext, platforms: PlatformsResource, source: str
) -> list[date]:
    """The partition range, widened by the source's look-back when it reaches the newest day."""
    days = partition_days(context)
    partitions_def = context.assets_def.partitions_def
    start = getattr(partitions_def, "start", None)
    widened = window_with_lookback(
        days,
        newest=platforms.newest_day(),
        lookback_days=platforms.lookback_for(source),
        earliest=start.date() if start is not None else None,
    )
    if len(widened) > len(days):
        context.log.info(
            f"{source}: re-pulling {widened[0]}..{days[0] - timedelta(days=1)} too "
            f"(look-back {platforms.lookback_for(source)} days: platforms restate recent days)"
        )
    return widened


def _today(platforms: PlatformsResource) -> date:
    return platforms.state().today if platforms.sandbox else date.today()


def _load_entities(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platforms: PlatformsResource,
    tables: Sequence[str],
    accounts: Callable[[Tenant], Sequence[str]],
    client_for: Callable[[Tenant, str], Any],
    fetch: Callable[[Any], dict[str, Callable[[], pl.DataFrame]]],
) -> dict[str, int]:
    """Each tenant's listings replace its snapshot per table, with the drift each listing's parser
    reported (drained from the client after every listing, so it lands under that table's source) and
    the elements it marked quarantined with their reason."""
    totals = dict.fromkeys(tables, 0)
    today = _today(platforms)
    for tenant in platforms.tenants():
        if not accounts(tenant):
            continue
        frames: dict[str, list[pl.DataFrame]] = {t: [] for t in tables}
        drift: dict[str, list[DriftEvent]] = {t: [] for t in tables}
        for account in accounts(tenant):
            with client_for(tenant, account) as client:
                for table, listing in fetch(client).items():
                    frames[table].append(listing())
                    events, _ = client.report.take()  # repeats: counted when the snapshot drops them
                    drift[table].extend(e for e in events if e not in drift[table])
        with warehouse.connect() as con:
            for table, parts in frames.items():
                totals[table] += load_snapshot(
                    con, table=table, source=table, tenant_id=tenant.tenant_id,
                    frame=pl.concat(parts, how="diagonal_relaxed"), snapshot_day=today, run_id=context.run_id,
                    source_ref=f"landing/{table}/{tenant.tenant_id}", drift=drift[table],
                ).rows_loaded  # fmt: skip
    return totals


def _days_of_files(paths: list[Path]) -> list[date]:
    return sorted({date.fromisoformat(Path(p).name.split(".")[0]) for p in paths})


def _export_sandbox_touchpoints(
    platforms: PlatformsResource, tenant_id: str, days: list[date], inbox: Path
) -> None:
    """The sandbox's stand-in for a daily export job dropping one file per day into the inbox."""
    from connectors.sandbox.files import export_touchpoint_range

    export_touchpoint_range(platforms.state(), inbox, days[0], days[-1], tenants=[tenant_id])


def _fetch_archived(client, object_type: str) -> pl.DataFrame:
    if object_type == "contacts":
        return client.fetch_contacts(archived=True)
    return client.fetch_deals(archived=True)


def _fetch_crm(client, object_type: str, cursor: str | None) -> pl.DataFrame:
    """First load lists everything (no search window cap); later loads search by modified date."""
    if cursor is None:
        return client.fetch_contacts() if object_type == "contacts" else client.fetch_deals()
    since = datetime.fromisoformat(cursor)
    if object_type == "contacts":
        return client.fetch_contacts_modified_since(since)
    return client.fetch_deals_modified_since(since)
