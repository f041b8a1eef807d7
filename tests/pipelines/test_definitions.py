"""The asset graph as a snapshot: an accidental change to keys, groups, jobs or schedules shows up here."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from pipelines.definitions import LOOKBACK_DAYS, build_definitions
from tests.support.pipeline_runs import tiny_settings


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    return build_definitions(tiny_settings(tmp_path_factory.mktemp("defs")))


def _groups(defs: dg.Definitions) -> dict[str, set[str]]:
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups.setdefault(node.group_name, set()).add("/".join(key.path))
    return groups


def test_assets_by_group(defs) -> None:
    groups = _groups(defs)
    assert groups["ingest"] == {
        "raw/meta_ads_insights",
        "raw/meta_ads_campaigns",
        "raw/meta_ads_adsets",
        "raw/meta_ads_ads",
        "raw/meta_ads_budget_changes",
        "raw/google_ads_ad_stats",
        "raw/google_ads_campaigns",
        "raw/google_ads_ad_groups",
        "raw/google_ads_ads",
        "raw/google_ads_budget_changes",
        "raw/hubspot_contacts",
        "raw/hubspot_deals",
        "raw/touchpoints",
        "raw/fx_rates",
        "raw/linkedin_ads_creative_stats",
        "raw/linkedin_ads_campaign_groups",
        "raw/linkedin_ads_campaigns",
        "raw/linkedin_ads_creatives",
        "raw/tiktok_ads_ad_stats",
        "raw/tiktok_ads_campaigns",
        "raw/tiktok_ads_adgroups",
        "raw/tiktok_ads_ads",
        "raw/offline_conversions",
        "raw/erasure_requests",
        "raw/imported_ad_reports",
        "raw/lift_tests",
        "raw/mailchimp_email_reports",
        "raw/social_posts",
        "raw/social_mentions",
        "raw/social_influencers",
    }
    assert {
        "marts/fct_ad_performance_daily",
        "marts/fct_channel_daily",
        "marts/dim_campaigns",
        "marts/dim_ads",
        "marts/dim_tenants",
        "marts/fct_kpi_daily",
    } <= groups["warehouse"]
    assert all(k.split("/")[0] in {"staging", "intermediate", "marts"} for k in groups["warehouse"])
    assert groups["ml"] == {
        "ml/forecast_channel_daily",
        "ml/forecast_backtest",
        "ml/mmm_channel",
        "ml/mmm_fit",
        "ml/mmm_decomposition",
        "ml/response_curves",
        "ml/budget_plan",
        "ml/mmm_calibration",
        "ml/attribution_channel",
        "ml/forecast_campaign_daily",
        "ml/forecast_campaign_backtest",
        "ml/anomalies",
        "ml/creative_fatigue",
        "ml/lead_scores",
        "ml/lead_model",
    }
    assert groups["activation"] == {"activation/decisions"}
    assert groups["serving"] == {"serving/snapshot"}


def test_dbt_sources_are_the_ingest_assets(defs) -> None:
    graph = defs.resolve_asset_graph()
    staging = graph.get(dg.AssetKey(["staging", "stg_meta_ads__ad_insights"]))
    assert dg.AssetKey(["raw", "meta_ads_insights"]) in staging.parent_keys
    for platform, table in (("linkedin_ads", "creative_stats"), ("tiktok_ads", "ad_stats")):
        node = graph.get(dg.AssetKey(["staging", f"stg_{platform}__{table}"]))
        assert dg.AssetKey(["raw", f"{platform}_{table}"]) in node.parent_keys
    serving = graph.get(dg.AssetKey(["serving", "snapshot"]))
    assert dg.AssetKey(["activation", "decisions"]) in serving.parent_keys


def test_daily_sources_are_partitioned_single_run_with_retries(defs) -> None:
    graph = defs.resolve_asset_graph()
    for name in (
        "meta_ads_insights",
        "google_ads_ad_stats",
        "touchpoints",
        "linkedin_ads_creative_stats",
        "tiktok_ads_ad_stats",
        "offline_conversions",
        "erasure_requests",
        "imported_ad_reports",
    ):
        node = graph.get(dg.AssetKey(["raw", name]))
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), name
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), name
    spec = defs.get_assets_def(dg.AssetKey(["raw", "meta_ads_insights"]))
    assert spec.op.retry_policy is not None and spec.op.retry_policy.max_retries >= 1


def test_dbt_tests_are_asset_checks(defs) -> None:
    graph = defs.resolve_asset_graph()
    checks = {(tuple(k.asset_key.path), k.name) for k in graph.asset_check_keys}
    assert any(asset == ("marts", "fct_channel_daily") for asset, _ in checks)
    for name in ("touchpoints", "offline_conversions", "erasure_requests", "imported_ad_reports"):
        assert (("raw", name), "files_readable") in checks


def test_the_daily_job_keeps_the_data_tests_of_the_views_it_does_not_rebuild(defs) -> None:
    """The staging views' tests guard each day's new raw rows: the daily job runs them even though
    it does not recreate the views."""
    graph = defs.resolve_asset_graph()
    daily = defs.resolve_job_def("daily").asset_layer
    daily_checks = {("/".join(k.asset_key.path), k.name) for k in daily.asset_graph.asset_check_keys}
    everything = {("/".join(k.asset_key.path), k.name) for k in graph.asset_check_keys}
    on_views = {check for check in everything if check[0].startswith("staging/")}
    assert (
        "staging/stg_meta_ads__ad_insights",
        "primary_key_stg_meta_ads__ad_insights_tenant_id__ad_id__date",
    ) in on_views
    assert len(on_views) >= 40 and on_views <= daily_checks
    daily_keys = {"/".join(k.path) for k in daily.executable_asset_keys}
    assert "staging/stg_meta_ads__ad_insights" not in daily_keys and "staging/tenants" not in daily_keys

    # Without the views in the run, Dagster must still run dbt after the ingest of every source
    # the backfill's dbt step reads (the views' tests read them today, not after the next run).
    def waits_for(job: str) -> set[tuple[str, str]]:
        deps = defs.resolve_job_def(job).dependencies
        return {
            (dep.node, dep.output)
            for node, inputs in deps.items()
            if node.name == "dbt_models"
            for dep in inputs.values()
        }

    assert ("raw__meta_ads_insights", "result") in waits_for("daily") and len(waits_for("daily")) >= 25
    assert waits_for("daily") == waits_for("materialize_all")


def test_jobs_and_the_daily_schedule(defs) -> None:
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"materialize_all", "ingest"}
    schedule = defs.get_schedule_def("daily_refresh")
    assert schedule.cron_schedule == "0 6 * * *"
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 2, 6, tzinfo=UTC)) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_end"] == "2026-11-01"
    first = date(2026, 11, 1) - timedelta(days=LOOKBACK_DAYS - 1)  # yesterday and the look-back before it
    assert request.tags["dagster/asset_partition_range_start"] == first.isoformat()


def test_the_daily_job_leaves_journey_attribution_and_the_mmm_to_the_weekly_refit(defs) -> None:
    def keys(job: str) -> set[str]:
        return {"/".join(k.path) for k in defs.resolve_job_def(job).asset_layer.executable_asset_keys}

    daily, weekly, everything = keys("daily"), keys("weekly_refit"), keys("materialize_all")
    heavy = {
        "intermediate/int_journey_touches",
        "marts/fct_attribution_coalitions",
        "marts/fct_attribution_transitions",
        "marts/fct_attribution_rule_based",
        "ml/attribution_channel",
        "ml/mmm_fit",
    }
    assert heavy <= weekly and not heavy & daily
    assert {"marts/fct_channel_daily", "ml/forecast_channel_daily", "serving/snapshot"} <= daily
    # ML cadence: selection and training weekly, forecasting and scoring daily
    training = {"ml/forecast_backtest", "ml/forecast_campaign_backtest", "ml/lead_model"}
    assert training <= weekly and not training & daily
    assert {"ml/forecast_campaign_daily", "ml/lead_scores"} <= daily
    # Staging views and seeds (a new day does not change them) are mostly built by the backfill and
    # rebuild_warehouse only; every other asset is daily, weekly or (publish) both.
    graph = defs.resolve_asset_graph()
    static = {
        "/".join(k.path)
        for k in graph.get_all_asset_keys()
        if graph.get(k).metadata.get("dagster-dbt/materialization_type") in ("view", "seed")
    }
    assert {"staging/stg_meta_ads__ad_insights", "staging/channel_mapping", "staging/tenants"} <= static
    # (views no daily model reads stay in the daily run: they order dbt after their ingest)
    assert "intermediate/int_nonconverting_journeys" in static & weekly  # a weekly view
    assert len(static) == 33 and len(static & daily) <= 8 and "staging/stg_social__mentions" in daily
    assert daily | weekly | static == everything and daily & weekly == {"serving/snapshot"}
    schedule = defs.get_schedule_def("weekly_refit")
    assert schedule.job_name == "weekly_refit" and schedule.cron_schedule == "0 8 * * 1"
    assert defs.get_schedule_def("daily_refresh").job_name == "daily"
