"""Activation assets: turn marts into decisions, execute them (dry run by default), audit everything."""

from contextlib import ExitStack
from datetime import UTC, datetime

import dagster as dg

from activations.executor import execute
from activations.policies.pause_high_cpa import POLICY, POLICY_VERSION, PauseHighCpaConfig, evaluate_pauses
from activations.ports import PlatformClients
from activations.records import (
    ACTIVATION_DDL,
    APPEND_AUDIT_SQL,
    UPSERT_DECISIONS_SQL,
    UPSERT_RUNS_SQL,
    audit_frame,
    decisions_frame,
    runs_frame,
)
from pipelines.resources import PlatformsResource, WarehouseResource


class ActivationResource(dg.ConfigurableResource):
    """Whether decisions are pushed (dry_run=False) and the kill switch that stops every push."""

    dry_run: bool = True
    kill_switch: bool = False


class PauseHighCpaRunConfig(dg.Config):
    lookback_days: int = 14
    cpa_ratio_threshold: float = 2.0
    min_spend_multiple: float = 3.0
    alpha: float = 0.05
    max_pauses_per_run: int = 20


@dg.asset(
    key=["activation", "decisions"],
    deps=[["marts", "fct_ad_performance_daily"], ["marts", "dim_campaigns"], ["marts", "dim_ads"]],
    group_name="activation",
    kinds={"python", "duckdb"},
    description="Pause ads whose cost per conversion is far above their campaign's target, with enough "
    "spend to be sure. Dry run by default; every attempt is audited.",
)
def pause_high_cpa_decisions(
    context: dg.AssetExecutionContext,
    config: PauseHighCpaRunConfig,
    warehouse: WarehouseResource,
    platforms: PlatformsResource,
    activation: ActivationResource,
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        ad_perf = con.sql(
            """select tenant_id, date, platform, account_id, campaign_id, ad_group_id, ad_id, currency,
                      spend::double as spend, impressions, clicks, platform_conversions::double as platform_conversions
               from marts.fct_ad_performance_daily"""
        ).pl()
        campaigns = con.sql("select * from marts.dim_campaigns").pl()
        ads = con.sql("select * from marts.dim_ads").pl()
    if ad_perf.height == 0:
        return dg.MaterializeResult(metadata={"evaluated": 0, "proposed": 0})
    as_of = ad_perf["date"].max()
    policy_config = PauseHighCpaConfig(
        lookback_days=config.lookback_days,
        cpa_ratio_threshold=config.cpa_ratio_threshold,
        min_spend_multiple=config.min_spend_multiple,
        alpha=config.alpha,
        max_pauses_per_run=config.max_pauses_per_run,
        kill_switch=activation.kill_switch,
    )
    evaluation = evaluate_pauses(ad_perf, campaigns, ads, as_of=as_of, config=policy_config)
    now = datetime.now(UTC)
    with ExitStack() as stack:
        meta_clients, google_clients, linkedin_clients, tiktok_clients = {}, {}, {}, {}
        for tenant in platforms.tenants():
            for account in tenant.meta_accounts:
                meta_clients[account] = stack.enter_context(platforms.meta(tenant, account))
            for customer in tenant.google_ads_customers:
                google_clients[customer] = stack.enter_context(platforms.google_ads(tenant, customer))
            for account in tenant.linkedin_accounts:
                linkedin_clients[account] = stack.enter_context(platforms.linkedin(tenant, account))
            for advertiser in tenant.tiktok_advertisers:
                tiktok_clients[advertiser] = stack.enter_context(platforms.tiktok(tenant, advertiser))
        report = execute(
            evaluation.decisions,
            clients=PlatformClients(
                meta=meta_clients, google_ads=google_clients, linkedin=linkedin_clients, tiktok=tiktok_clients
            ),
            dry_run=activation.dry_run,
            run_id=context.run_id,
            kill_switch=activation.kill_switch,
        )
    decisions = decisions_frame(
        evaluation.decisions, run_id=context.run_id, dry_run=activation.dry_run, created_at=now, report=report
    )
    runs = runs_frame(
        report,
        evaluation.decisions,
        policy=POLICY,
        policy_version=POLICY_VERSION,
        n_evaluated=evaluation.n_evaluated,
    )
    audit = audit_frame(report)
    with warehouse.connect() as con:
        con.execute(ACTIVATION_DDL)
        con.execute("begin transaction")
        try:
            for name, frame, sql in (
                ("staged_decisions", decisions, UPSERT_DECISIONS_SQL),
                ("staged_runs", runs, UPSERT_RUNS_SQL),
                ("staged_audit", audit, APPEND_AUDIT_SQL),
            ):
                con.register(name, frame.to_arrow())
                if frame.height:
                    con.execute(sql)
                con.unregister(name)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    for result in report.results:
        if result.status == "failed":
            context.log.warning(f"decision {result.decision_id} failed: {result.detail}")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "evaluated": evaluation.n_evaluated,
            "proposed": len(evaluation.proposed),
            "applied": report.n_applied,
            "failed": report.n_failed,
            "dry_run": activation.dry_run,
        }
    )
