"""Ingest assets of owned media: Mailchimp email reports and organic social (posts, mentions,
influencer profiles) -> `raw.*` (docs/INTERFACES.md §7.3).

- Email reports keep changing for days after a send: each run re-reads the sends since the newest
  send it has seen minus `EMAIL_LOOKBACK` (first run: everything) plus every automation, and merges on
  (tenant_id, campaign_id). `_partition` = the send's UTC day.
- Posts (lifetime metrics still growing) and mentions (likes, reposts) are incremental by creation time
  with their own look-backs, merged on (tenant_id, platform, id). `_partition` = the creation UTC day.
- Influencer profiles are a snapshot: the tenant's `current` slice is replaced.
The cursors live in `ops.cursors` (one per tenant and table).
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import polars as pl

from pipelines.ingest import LoadOutcome, load_snapshot, merge_keyed
from pipelines.resources import PlatformsResource, WarehouseResource
from pipelines.tenants import Tenant

INGEST_RETRY = dg.RetryPolicy(
    max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
EMAIL_LOOKBACK = timedelta(days=30)  # Mailchimp reports still move weeks after a send
POSTS_LOOKBACK = timedelta(days=30)  # post metrics settle within days; a month is safe
MENTIONS_LOOKBACK = timedelta(days=7)  # likes and reposts of a mention settle quickly


def _check_spec(key: list[str]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "rows_pass_contract", asset=key, description="Rows failing the data contract went to ops.quarantine."
    )


def _results(key: list[str], outcomes: list[LoadOutcome]) -> list[dg.MaterializeResult | dg.AssetCheckResult]:
    rows = sum(o.rows_loaded for o in outcomes)
    quarantined = sum(o.rows_quarantined for o in outcomes)
    reasons: dict[str, int] = {}
    for outcome in outcomes:
        for reason, n in outcome.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + n
    return [
        dg.MaterializeResult(
            asset_key=key,
            metadata={
                "rows_loaded": rows,
                "rows_quarantined": quarantined,
                "pages": sum(o.pages for o in outcomes),
                "tenants": len(outcomes),
            },
        ),
        dg.AssetCheckResult(
            asset_key=key,
            check_name="rows_pass_contract",
            passed=quarantined == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows_quarantined": quarantined, **{f"reason: {k}": v for k, v in reasons.items()}},
        ),
    ]


def _incremental(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    tenant: Tenant,
    *,
    table: str,
    keys: list[str],
    time_column: str,
    lookback: timedelta,
    fetch: Callable[[datetime | None], tuple[pl.DataFrame, int]],
    client: Any = None,
) -> LoadOutcome:
    """Fetch since (cursor - lookback), merge on `keys` with the drift and repeats the client's parsers
    reported, and move the cursor to the newest time seen. A load that quarantined rows keeps the cursor
    where it was: the quarantined records (a field missing in this answer, say) are read again next run,
    however old, instead of falling behind the look-back for good."""
    from pipelines.warehouse import get_cursor, set_cursor

    with warehouse.connect() as con:
        cursor = get_cursor(con, tenant.tenant_id, table)
    since = datetime.fromisoformat(cursor) - lookback if cursor else None
    frame, pages = fetch(since)
    drift, duplicates = client.report.take() if client is not None else ([], 0)
    with warehouse.connect() as con:
        outcome = merge_keyed(
            con,
            table=table,
            source=table,
            tenant_id=tenant.tenant_id,
            frame=frame,
            keys=keys,
            partition=pl.col(time_column).dt.date(),
            run_id=context.run_id,
            source_ref=f"landing/{table}/{tenant.tenant_id}",
            cursor_label=f"since {since.isoformat() if since else 'the beginning'}",
            pages=pages,
            drift=drift,
            duplicates=duplicates,
        )
        newest = frame[time_column].max() if frame.height and not outcome.rows_quarantined else None
        if newest is not None and (cursor is None or newest > datetime.fromisoformat(cursor)):
            set_cursor(con, tenant.tenant_id, table, newest.isoformat())
    return outcome


def build_owned_ingest_assets() -> list[dg.AssetsDefinition]:
    common = {"group_name": "ingest", "retry_policy": INGEST_RETRY}

    @dg.asset(
        key=["raw", "mailchimp_email_reports"],
        kinds={"mailchimp", "duckdb"},
        check_specs=[_check_spec(["raw", "mailchimp_email_reports"])],
        description="Mailchimp campaign reports (lifetime counts), re-read for 30 days after a send and "
        "merged on campaign id; automations re-read every run.",
        **common,
    )
    def mailchimp_email_reports(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        outcomes = []
        for tenant in platforms.tenants():
            if not tenant.has_mailchimp:
                continue
            with platforms.mailchimp(tenant) as client:
                outcomes.append(
                    _incremental(
                        context,
                        warehouse,
                        tenant,
                        table="mailchimp_email_reports",
                        keys=["tenant_id", "campaign_id"],
                        time_column="send_time",
                        lookback=EMAIL_LOOKBACK,
                        fetch=lambda since, client=client: client.fetch_reports(since_send_time=since),
                        client=client,
                    )
                )
        yield from _results(["raw", "mailchimp_email_reports"], outcomes)

    @dg.asset(
        key=["raw", "social_posts"],
        kinds={"social", "duckdb"},
        check_specs=[_check_spec(["raw", "social_posts"])],
        description="Organic posts of the brand's own accounts (lifetime metrics), incremental by creation "
        "time with a 30-day look-back, merged on (platform, post_id).",
        **common,
    )
    def social_posts(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        outcomes = []
        for tenant in platforms.tenants():
            if not tenant.has_social:
                continue
            with platforms.social(tenant) as client:
                outcomes.append(
                    _incremental(
                        context,
                        warehouse,
                        tenant,
                        table="social_posts",
                        keys=["tenant_id", "platform", "post_id"],
                        time_column="created_at",
                        lookback=POSTS_LOOKBACK,
                        fetch=lambda since, client=client: client.fetch_posts(since=since),
                        client=client,
                    )
                )
        yield from _results(["raw", "social_posts"], outcomes)

    @dg.asset(
        key=["raw", "social_mentions"],
        kinds={"social", "duckdb"},
        check_specs=[_check_spec(["raw", "social_mentions"])],
        description="Public mentions of the brand (listening keyword per tenant), incremental by creation "
        "time with a 7-day look-back, merged on (platform, mention_id).",
        **common,
    )
    def social_mentions(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        outcomes = []
        for tenant in platforms.tenants():
            if not tenant.has_social:
                continue
            keyword = tenant.listening_keyword or tenant.tenant_id
            with platforms.social(tenant) as client:
                outcomes.append(
                    _incremental(
                        context,
                        warehouse,
                        tenant,
                        table="social_mentions",
                        keys=["tenant_id", "platform", "mention_id"],
                        time_column="created_at",
                        lookback=MENTIONS_LOOKBACK,
                        fetch=lambda since, client=client, keyword=keyword: client.fetch_mentions(
                            keyword, since=since
                        ),
                        client=client,
                    )
                )
        yield from _results(["raw", "social_mentions"], outcomes)

    @dg.asset(
        key=["raw", "social_influencers"],
        kinds={"social", "duckdb"},
        check_specs=[_check_spec(["raw", "social_influencers"])],
        description="Influencer profiles matched to the brand: a snapshot replacing the previous one.",
        **common,
    )
    def social_influencers(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, platforms: PlatformsResource
    ):
        outcomes = []
        today = platforms.state().today if platforms.sandbox else datetime.now().date()
        for tenant in platforms.tenants():
            if not tenant.has_social:
                continue
            with platforms.social(tenant) as client:
                frame, pages = client.fetch_influencers()
                drift, duplicates = client.report.take()
            with warehouse.connect() as con:
                outcomes.append(
                    load_snapshot(
                        con,
                        table="social_influencers",
                        source="social_influencers",
                        tenant_id=tenant.tenant_id,
                        frame=frame,
                        snapshot_day=today,
                        run_id=context.run_id,
                        source_ref=f"landing/social_influencers/{tenant.tenant_id}",
                        pages=pages,
                        drift=drift,
                        duplicates=duplicates,
                    )
                )
        yield from _results(["raw", "social_influencers"], outcomes)

    return [mailchimp_email_reports, social_posts, social_mentions, social_influencers]
