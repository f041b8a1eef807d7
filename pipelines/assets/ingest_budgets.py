"""Ingest assets for budget history (issue 4): the platforms' change logs -> `raw.*_budget_changes`.

Meta: the ad account activity log (`GET act_{id}/activities`), read whole each run (it is small: one
event per budget change) and merged on (tenant, account, object, event_time, event_type), so a re-run
writes the very same rows. Google Ads: change_event over the last 30 days (all the API keeps),
merged on resource_name, so daily runs accumulate the history. dbt turns the events into `intermediate.int_campaign_budget_daily`, the
planned budget in force each campaign-day, which `ml/anomalies` scores spend against.
"""

from datetime import timedelta

import dagster as dg
import polars as pl

from connectors.google_ads import CHANGE_EVENT_DAYS
from pipelines.assets.ingest import INGEST_RETRY, _contract_check, _outcome_result, _today
from pipelines.ingest import LoadOutcome, merge_keyed
from pipelines.resources import PlatformsResource, WarehouseResource

META_BUDGET_KEYS = ("tenant_id", "account_id", "object_id", "event_time", "event_type")


@dg.asset(
    key=["raw", "meta_ads_budget_changes"],
    kinds={"meta", "duckdb"},
    group_name="ingest",
    retry_policy=INGEST_RETRY,
    check_specs=[_contract_check(["raw", "meta_ads_budget_changes"])],
    description="Meta budget events from the ad account activity log (creation budget and each change; "
    "minor units), merged on their keys.",
)
def meta_ads_budget_changes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
):
    outcomes: list[LoadOutcome] = []
    today = _today(platforms)
    for tenant in platforms.tenants():
        if not tenant.meta_accounts:
            continue
        parts = []
        for account in tenant.meta_accounts:
            with platforms.meta(tenant, account) as client:
                parts.append(client.fetch_budget_changes())
        frame = pl.concat(parts, how="diagonal_relaxed")
        with warehouse.connect() as con:
            outcomes.append(
                merge_keyed(
                    con,
                    table="meta_ads_budget_changes",
                    source="meta_ads_budget_changes",
                    tenant_id=tenant.tenant_id,
                    frame=frame,
                    keys=META_BUDGET_KEYS,
                    partition=pl.col("event_date").cast(pl.String),
                    run_id=context.run_id,
                    source_ref=f"landing/meta_ads_activities/{tenant.tenant_id}",
                    cursor_label=today.isoformat(),
                    as_of=today + timedelta(days=1),
                )
            )
    yield from _outcome_result(["raw", "meta_ads_budget_changes"], outcomes)


GOOGLE_BUDGET_KEYS = ("tenant_id", "customer_id", "resource_name")


@dg.asset(
    key=["raw", "google_ads_budget_changes"],
    kinds={"googleads", "duckdb"},
    group_name="ingest",
    retry_policy=INGEST_RETRY,
    check_specs=[_contract_check(["raw", "google_ads_budget_changes"])],
    description="Google Ads campaign budget changes (change_event, the last 30 days the API keeps; "
    "micros), merged on their resource names so history accumulates across runs.",
)
def google_ads_budget_changes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
):
    outcomes: list[LoadOutcome] = []
    today = _today(platforms)
    first = today - timedelta(days=CHANGE_EVENT_DAYS - 1)
    for tenant in platforms.tenants():
        if not tenant.google_ads_customers:
            continue
        parts = []
        for customer in tenant.google_ads_customers:
            with platforms.google_ads(tenant, customer) as client:
                parts.append(client.fetch_budget_changes(first, today))
        frame = pl.concat(parts, how="diagonal_relaxed")
        with warehouse.connect() as con:
            outcomes.append(
                merge_keyed(
                    con,
                    table="google_ads_budget_changes",
                    source="google_ads_budget_changes",
                    tenant_id=tenant.tenant_id,
                    frame=frame,
                    keys=GOOGLE_BUDGET_KEYS,
                    partition=pl.col("change_date").cast(pl.String),
                    run_id=context.run_id,
                    source_ref=f"landing/google_ads_budget_changes/{tenant.tenant_id}",
                    cursor_label=f"{first.isoformat()}_{today.isoformat()}",
                    as_of=today + timedelta(days=1),
                )
            )
    yield from _outcome_result(["raw", "google_ads_budget_changes"], outcomes)
