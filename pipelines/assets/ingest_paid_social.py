"""Ingest assets for LinkedIn Ads and TikTok Ads -> `raw.*` (INTERFACES.md §7.3).

Daily facts (creative-day / ad-day) are partitioned by day and loaded as Meta's and Google's are: one
31-day request window at a time (plus the look-back when the range reaches the newest day), per account
(the clients split further as each platform requires: LinkedIn by its 15,000-element cap, TikTok in
30-day spans), each window replacing its (tenant, source, day) slices; a failing window fails alone. Entities are snapshots replaced per tenant, with the listings' drift
and quarantined elements.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from pipelines.assets.ingest import (
    INGEST_RETRY,
    _contract_check,
    _load_ad_platform_daily,
    _load_entities,
    _outcome_result,
)
from pipelines.ingest import LoadOutcome
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
        def fetch(client: Any) -> dict[str, Callable[[], pl.DataFrame]]:
            return {
                "linkedin_ads_campaign_groups": client.list_campaign_groups,
                "linkedin_ads_campaigns": client.list_campaigns,
                "linkedin_ads_creatives": client.list_creatives,
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
        def fetch(client: Any) -> dict[str, Callable[[], pl.DataFrame]]:
            return {
                "tiktok_ads_campaigns": client.list_campaigns,
                "tiktok_ads_adgroups": client.list_adgroups,
                "tiktok_ads_ads": client.list_ads,
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
    """As Meta and Google (`_load_ad_platform_daily`): the partition range plus the source's look-back
    when it reaches the newest day, one request window at a time, each window one (tenant, source, day)
    slice replacement with the drift and repeats the client's parser reported; a failing window is
    logged, keeps its previous rows and fails the step after the others load."""
    return _load_ad_platform_daily(
        context, warehouse, platforms, table=table, source=source, accounts=accounts,
        client_for=client_for, fetch=fetch, day_column=day_column,
    )  # fmt: skip
