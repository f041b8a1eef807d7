"""Ingest assets for LinkedIn Ads and TikTok Ads -> `raw.*` (INTERFACES.md §7.3).

Daily facts (creative-day / ad-day) are partitioned by day: each run fetches the partition range per
account (the clients split it as each platform requires: LinkedIn by its 15,000-element cap, TikTok in
30-day spans) and replaces the (tenant, source, day) slices. Entities are snapshots replaced per tenant.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from pipelines.assets.ingest import INGEST_RETRY, _contract_check, _outcome_result, _today, partition_days
from pipelines.ingest import LoadOutcome, load_daily_slices, load_snapshot
from pipelines.resources import PlatformsResource, WarehouseResource
from pipelines.tenants import Tenant

LINKEDIN_ENTITIES = ("linkedin_ads_campaign_groups", "linkedin_ads_campaigns", "linkedin_ads_creatives")
TIKTOK_ENTITIES = ("tiktok_ads_campaigns", "tiktok_ads_adgroups", "tiktok_ads_ads")


def build_paid_social_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    daily = {
        "partitions_def": partitions,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "retry_policy": INGEST_RETRY,
        "group_name": "ingest",
    }

    @dg.asset(
        key=["raw", "linkedin_ads_creative_stats"],
        kinds={"linkedin", "duckdb"},
        check_specs=[_contract_check(["raw", "linkedin_ads_creative_stats"])],
        description="LinkedIn Ads analytics, one row per creative and day (account currency, as reported).",
        **daily,
    )
    def linkedin_ads_creative_stats(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        def fetch(client: Any, first: date, last: date) -> tuple[pl.DataFrame, int]:
            pages = list(client.iter_analytics_pages(first, last))
            return client.parse_creative_stats(pages), len(pages)

        outcomes = _load_daily(
            context, warehouse, platforms, table="linkedin_ads_creative_stats", source="linkedin_ads",
            accounts=lambda t: t.linkedin_accounts, client_for=platforms.linkedin, fetch=fetch, day_column="date",
        )  # fmt: skip
        yield from _outcome_result(["raw", "linkedin_ads_creative_stats"], outcomes)

    @dg.asset(
        key=["raw", "tiktok_ads_ad_stats"],
        kinds={"tiktok", "duckdb"},
        check_specs=[_contract_check(["raw", "tiktok_ads_ad_stats"])],
        description="TikTok Ads integrated report, one row per ad and day (advertiser currency, as reported).",
        **daily,
    )
    def tiktok_ads_ad_stats(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        def fetch(client: Any, first: date, last: date) -> tuple[pl.DataFrame, int]:
            pages = list(client.iter_report_pages(first, last))
            return client.parse_ad_stats(pages), len(pages)

        outcomes = _load_daily(
            context, warehouse, platforms, table="tiktok_ads_ad_stats", source="tiktok_ads",
            accounts=lambda t: t.tiktok_advertisers, client_for=platforms.tiktok, fetch=fetch,
            day_column="stat_time_day",
        )  # fmt: skip
        yield from _outcome_result(["raw", "tiktok_ads_ad_stats"], outcomes)

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ["raw", t],
                kinds={"linkedin", "duckdb"},
                group_name="ingest",
                description="Current LinkedIn campaign groups, campaigns (status, daily budget), creatives.",
            )
            for t in LINKEDIN_ENTITIES
        ],
        retry_policy=INGEST_RETRY,
    )
    def linkedin_ads_entities(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        def fetch(client: Any) -> dict[str, pl.DataFrame]:
            return {
                "linkedin_ads_campaign_groups": client.list_campaign_groups(),
                "linkedin_ads_campaigns": client.list_campaigns(),
                "linkedin_ads_creatives": client.list_creatives(),
            }

        totals = _load_entities(context, warehouse, platforms, LINKEDIN_ENTITIES,
                                lambda t: t.linkedin_accounts, platforms.linkedin, fetch)  # fmt: skip
        for table, rows in totals.items():
            yield dg.MaterializeResult(asset_key=["raw", table], metadata={"rows_loaded": rows})

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ["raw", t],
                kinds={"tiktok", "duckdb"},
                group_name="ingest",
                description="Current TikTok campaigns, ad groups (status, daily budget), ads.",
            )
            for t in TIKTOK_ENTITIES
        ],
        retry_policy=INGEST_RETRY,
    )
    def tiktok_ads_entities(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        def fetch(client: Any) -> dict[str, pl.DataFrame]:
            return {
                "tiktok_ads_campaigns": client.list_campaigns(),
                "tiktok_ads_adgroups": client.list_adgroups(),
                "tiktok_ads_ads": client.list_ads(),
            }

        totals = _load_entities(context, warehouse, platforms, TIKTOK_ENTITIES,
                                lambda t: t.tiktok_advertisers, platforms.tiktok, fetch)  # fmt: skip
        for table, rows in totals.items():
            yield dg.MaterializeResult(asset_key=["raw", table], metadata={"rows_loaded": rows})

    return [linkedin_ads_creative_stats, tiktok_ads_ad_stats, linkedin_ads_entities, tiktok_ads_entities]


def _load_daily(
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
    """All of a tenant's accounts for the partition range, then one slice replacement per tenant (the
    slice is (tenant, source, day): loading one account at a time would delete the others' rows)."""
    days = partition_days(context)
    outcomes = []
    for tenant in platforms.tenants():
        if not accounts(tenant):
            continue
        frames, pages = [], 0
        for account in accounts(tenant):
            with client_for(tenant, account) as client:
                frame, n_pages = fetch(client, days[0], days[-1])
            frames.append(frame)
            pages += n_pages
        with warehouse.connect() as con:
            outcomes.append(
                load_daily_slices(
                    con, table=table, source=source, tenant_id=tenant.tenant_id, days=days,
                    frame=pl.concat(frames, how="diagonal_relaxed"), partition=pl.col(day_column),
                    run_id=context.run_id, source_ref=f"landing/{table}/{tenant.tenant_id}", pages=pages,
                    as_of=days[-1],
                )
            )  # fmt: skip
    return outcomes


def _load_entities(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platforms: PlatformsResource,
    tables: Sequence[str],
    accounts: Callable[[Tenant], Sequence[str]],
    client_for: Callable[[Tenant, str], Any],
    fetch: Callable[[Any], dict[str, pl.DataFrame]],
) -> dict[str, int]:
    totals = dict.fromkeys(tables, 0)
    today = _today(platforms)
    for tenant in platforms.tenants():
        if not accounts(tenant):
            continue
        frames: dict[str, list[pl.DataFrame]] = {t: [] for t in tables}
        for account in accounts(tenant):
            with client_for(tenant, account) as client:
                for table, frame in fetch(client).items():
                    frames[table].append(frame)
        with warehouse.connect() as con:
            for table, parts in frames.items():
                totals[table] += load_snapshot(
                    con, table=table, source=table, tenant_id=tenant.tenant_id,
                    frame=pl.concat(parts, how="diagonal_relaxed"), snapshot_day=today, run_id=context.run_id,
                    source_ref=f"landing/{table}/{tenant.tenant_id}",
                ).rows_loaded  # fmt: skip
    return totals
