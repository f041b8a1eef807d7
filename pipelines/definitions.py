"""The one `Definitions` of Marketing OS: every asset, check, job, schedule and resource.

`dagster dev -m pipelines.definitions` loads `defs` lazily; tests and the demo call
`build_definitions(settings)` with their own paths.
"""

import os
import warnings
from datetime import date, timedelta

import dagster as dg
from dagster_dbt import build_dbt_asset_selection, dbt_assets

from pipelines.assets.activation import pause_high_cpa_decisions
from pipelines.assets.ingest import build_ingest_assets
from pipelines.assets.ingest_budgets import google_ads_budget_changes, meta_ads_budget_changes
from pipelines.assets.ingest_files import build_file_ingest_assets
from pipelines.assets.ingest_owned import build_owned_ingest_assets
from pipelines.assets.ingest_paid_social import build_paid_social_assets
from pipelines.assets.ml import channel_forecast, channel_forecast_backtest
from pipelines.assets.ml_attribution import attribution_channel
from pipelines.assets.ml_mmm import media_mix_model
from pipelines.assets.ml_signals import (
    campaign_anomalies,
    campaign_forecast,
    campaign_forecast_backtest,
    creative_fatigue,
    lead_model,
    lead_scores,
)
from pipelines.assets.serving import build_serving_snapshot
from pipelines.dbt import (
    TRANSLATOR,
    MarketingDbtCliResource,
    dbt_build_args,
    dbt_project,
    definition_relations,
    prepare_manifest,
)
from pipelines.resources import WarehouseResource, resources_from_settings
from pipelines.settings import Settings

# backfill_policy is marked beta; we rely on single-run backfills deliberately (one step per range).
warnings.filterwarnings("ignore", category=dg.BetaWarning)

LOOKBACK_DAYS = 7  # platforms restate recent days; the daily run re-pulls this window


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Sandbox: the world's days, including days simulated since (`SandboxState.advance`). Live: from
    MOS_START_DATE (default two years back) to yesterday."""
    if settings.mode == "sandbox":
        from connectors.sandbox.presets import get_preset

        preset = get_preset(settings.preset)
        first, last = preset.start_date, _sandbox_today(settings, preset.end_date)
        return dg.DailyPartitionsDefinition(
            start_date=first.isoformat(), end_date=(last + timedelta(days=1)).isoformat()
        )
    start = os.environ.get("MOS_START_DATE") or (date.today() - timedelta(days=730)).isoformat()
    return dg.DailyPartitionsDefinition(start_date=start)


def _sandbox_today(settings: Settings, generated_end: date) -> date:
    """The last simulated day: the generated world's end, or the last `advance` in its mutation log
    (read without loading the world)."""
    import json

    from connectors.sandbox.world import world_dir

    log = world_dir(settings.sandbox_dir, settings.preset, settings.seed) / "state" / "mutations.jsonl"
    today = generated_end
    if log.exists():
        for line in log.read_text().splitlines():
            if '"advance"' in line:
                entry = json.loads(line)
                if entry.get("op") == "advance":
                    today = max(today, date.fromisoformat(entry["to"]))
    return today


def build_dbt_assets(settings: Settings, partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    manifest = prepare_manifest(settings)
    first_day = partitions.start.date()
    lookback_days = max(settings.lookback_days.values())
    definitions = definition_relations(manifest)

    @dbt_assets(
        manifest=manifest, project=dbt_project(), dagster_dbt_translator=TRANSLATOR, name="dbt_models"
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: MarketingDbtCliResource, warehouse: WarehouseResource
    ):
        # dbt runs as its own process and finds the warehouse through the environment.
        os.environ["MOS_WAREHOUSE"] = warehouse.path
        # A daily run passes its window to the incremental models; the backfill rebuilds everything.
        args, window = dbt_build_args(context.run.tags, first_day=first_day, lookback_days=lookback_days)
        os.environ.update(window)  # empty values on a full refresh: no window left from an earlier run
        # A daily run tests a model only with all its parents in the run ("buildable"): it must not
        # test the weekly attribution marts against today's last touch. The weekly refit and full runs
        # test every model they build, also against the daily marts ("eager", dbt's default): with
        # "buildable" the weekly run skipped the attribution marts' tests against dim_tenants and the
        # last-touch mart, and Dagster warned their blocking checks "emitted no result".
        os.environ["DBT_INDIRECT_SELECTION"] = "buildable" if window["MOS_DBT_WINDOW_START"] else "eager"
        # A run that leaves out views or seeds (the daily run) reads them as they are: say so clearly
        # if they were never built, instead of dbt's bare "does not exist" at the first one.
        absent = _unselected_definitions_read(context, definitions)
        if absent:
            with warehouse.connect(read_only=True) as con:
                existing = set(
                    con.execute("select table_schema, table_name from information_schema.tables").fetchall()
                )
            missing = sorted(".".join(r) for r in absent.values() if r not in existing)
            if missing:
                raise dg.Failure(
                    f"this run reads {len(missing)} dbt views/seeds it does not build and the warehouse "
                    f"{warehouse.path} lacks them ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): "
                    "run the backfill (job materialize_all) or the job rebuild_warehouse first"
                )
        context.log.info(f"dbt {' '.join(args)}")
        yield from dbt.cli(args, context=context).stream()

    return dbt_models


def _unselected_definitions_read(
    context: dg.AssetExecutionContext, definitions: dict[dg.AssetKey, tuple[str, str]]
) -> dict[dg.AssetKey, tuple[str, str]]:
    """The views and seeds the run's dbt nodes read (directly or through other views) but do not build."""
    selected = context.selected_asset_keys
    deps = context.assets_def.asset_deps
    read: dict[dg.AssetKey, tuple[str, str]] = {}
    stack = list(selected)
    while stack:
        for upstream in deps.get(stack.pop(), ()):
            if upstream in definitions and upstream not in selected and upstream not in read:
                read[upstream] = definitions[upstream]
                stack.append(upstream)
    return read


def daily_schedule(job) -> dg.ScheduleDefinition:
    @dg.schedule(
        job=job,
        cron_schedule="0 6 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Every morning: yesterday plus a {LOOKBACK_DAYS}-day look-back, then everything downstream.",
    )
    def daily_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        last = context.scheduled_execution_time.date() - timedelta(days=1)
        first = last - timedelta(days=LOOKBACK_DAYS - 1)
        return dg.RunRequest(
            run_key=f"daily-{last.isoformat()}",
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
        )

    return daily_refresh


WEEKLY_DBT_SELECT = "tag:weekly"  # dbt_project.yml: the attribution folders


def weekly_selection(dbt_models: dg.AssetsDefinition) -> dg.AssetSelection:
    """What the ops cadence refits weekly rather than daily: every row of these can change with any
    new day (journeys span the look-back, the MMM fits the whole history), a week moves them
    little, and they are most of a daily run's cost (README, "Daily runs"). Likewise model
    training and selection: the forecasts' rolling-origin backtests (the daily forecasts refit the
    chosen model) and the lead-scoring fit (the daily run scores with the stored model)."""
    return build_dbt_asset_selection([dbt_models], dbt_select=WEEKLY_DBT_SELECT) | dg.AssetSelection.assets(
        attribution_channel,
        media_mix_model,
        channel_forecast_backtest,
        campaign_forecast_backtest,
        lead_model,
    )


# dbt nodes whose warehouse objects a new day does not change: views (they read raw as it is now) and
# seeds (files of the project). Built by the backfill and `rebuild_warehouse`, like every change of
# model logic; recreating them every day is ~60 dbt nodes' worth of fixed cost.
DEFINITION_ONLY_DBT_SELECT = "config.materialized:view resource_type:seed"


def daily_selection(dbt_models: dg.AssetsDefinition, weekly: dg.AssetSelection) -> dg.AssetSelection:
    """Everything but the weekly refit and the views and seeds that the daily models read, yet with
    those nodes' data tests: the staging views' key and value tests are what guards each day's new
    raw rows, so the daily run keeps them (dagster-dbt selects a check whose asset is not in the run
    by its test name). Dagster orders the dbt step after the ingest of every source those tests
    read: a daily model depends on the sources of the views it reads (MarketingDbtTranslator), and
    a view no daily model reads stays in the run (a few, e.g. social mentions: ~50 ms each)."""
    candidate = dg.AssetSelection.all() - weekly
    static = build_dbt_asset_selection([dbt_models], dbt_select=DEFINITION_ONLY_DBT_SELECT)
    read_daily = static & (candidate - static).upstream(depth=1, include_self=False)
    return candidate - read_daily.without_checks()


def weekly_schedule(job) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="weekly_refit",
        job=job,
        cron_schedule="0 8 * * 1",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Mondays after the daily run: attribution marts and models, the MMM, forecast "
        "model selection, the lead-scoring fit, publish.",
    )


def build_definitions(
    settings: Settings | None = None, *, loggers: dict[str, dg.LoggerDefinition] | None = None
) -> dg.Definitions:
    settings = settings or Settings.from_env()
    partitions = daily_partitions(settings)
    dbt_models = build_dbt_assets(settings, partitions)
    assets = [
        *build_ingest_assets(partitions),
        *build_paid_social_assets(partitions),
        *build_file_ingest_assets(partitions),
        *build_owned_ingest_assets(),
        meta_ads_budget_changes,
        google_ads_budget_changes,
        dbt_models,
        channel_forecast_backtest,
        channel_forecast,
        media_mix_model,
        attribution_channel,
        campaign_forecast_backtest,
        campaign_forecast,
        campaign_anomalies,
        creative_fatigue,
        lead_model,
        lead_scores,
        pause_high_cpa_decisions,
        build_serving_snapshot(settings.serving),
    ]
    weekly = weekly_selection(dbt_models)
    everything = dg.define_asset_job(
        "materialize_all",
        selection=dg.AssetSelection.all(),
        description="Ingest every source, build the marts, fit, decide, publish (the backfill).",
    )
    daily = dg.define_asset_job(
        "daily",
        selection=daily_selection(dbt_models, weekly),
        description="The daily run: ingest, the data tests of the staging views and seeds (built by "
        "the backfill and rebuild_warehouse), the marts (incremental over the run's window), forecasts "
        "(the weekly choice of model, refitted), anomalies, lead scores (the weekly model), decisions, "
        "publish. Multi-touch attribution, the MMM, model selection and training: weekly.",
    )
    weekly_refit = dg.define_asset_job(
        "weekly_refit",
        selection=weekly | dg.AssetSelection.assets(["serving", "snapshot"]),
        description="Journey-level attribution marts, data-driven attribution and the media-mix "
        "model over the whole history, the forecasts' model selection (backtests), the lead-scoring "
        "fit, then publish.",
    )
    warehouse_only = dg.define_asset_job(
        "rebuild_warehouse",
        selection=dg.AssetSelection.assets(dbt_models),
        description="Every dbt model rebuilt from raw (--full-refresh), e.g. after a change of model "
        "logic or seeds, which incremental days would not pick up on their own.",
    )
    ingest_only = dg.define_asset_job(
        "ingest",
        selection=dg.AssetSelection.groups("ingest"),
        description="Only the ingest assets (backfills, connector checks).",
    )
    return dg.Definitions(
        assets=assets,
        jobs=[everything, daily, weekly_refit, warehouse_only, ingest_only],
        schedules=[daily_schedule(daily), weekly_schedule(weekly_refit)],
        resources=resources_from_settings(settings),
        loggers=loggers,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
