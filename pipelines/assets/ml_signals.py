"""ML signal assets: campaign forecasts, anomalies, creative fatigue and lead scores (issue 4, models 4-7).

Each asset reads marts/staging aggregates from the warehouse (the warehouse does the heavy lifting),
calls one pure `models_ml` function and writes its `ml.*` tables (INTERFACES.md §7.4).
"""

import pickle
from datetime import datetime

import dagster as dg
import duckdb
import polars as pl

from models_ml.anomalies import AnomalySettings, detect_anomalies
from models_ml.fatigue import FatigueSettings, detect_fatigue
from models_ml.forecast import ForecastResult, chosen_models, forecast_campaign_metrics
from models_ml.lead_scoring import LeadModel, LeadScoringSettings, fit_lead_models, score_with_models
from pipelines.assets.ml import log_forecast, read_if_exists, stored_choice
from pipelines.resources import WarehouseResource
from pipelines.warehouse import create_or_replace, replace_by_keys, table_exists

AD_PERFORMANCE = ["marts", "fct_ad_performance_daily"]

# One row per campaign and day, from the ad-level mart.
CAMPAIGN_DAILY_SQL = """
    select tenant_id, platform, campaign_id, date,
           sum(spend)::double as spend,
           sum(impressions)::double as impressions,
           sum(clicks)::double as clicks,
           sum(platform_conversions)::double as conversions,
           sum(platform_conversion_value)::double as revenue
    from marts.fct_ad_performance_daily
    group by tenant_id, platform, campaign_id, date
    order by tenant_id, platform, campaign_id, date
"""

AD_DAILY_SQL = """
    select tenant_id, platform, ad_id, date,
           impressions::double as impressions,
           clicks::double as clicks,
           spend::double as spend,
           platform_conversions::double as conversions
    from marts.fct_ad_performance_daily
    order by tenant_id, platform, ad_id, date
"""

PAID_CHANNELS = ("meta", "google_ads", "linkedin", "tiktok")


def lead_features_sql(contacts: str, touchpoints: str, *, has_opt_in: bool) -> str:
    """One row per lead: what the warehouse knew when the contact became a lead (no later events).

    ``contacts``: a relation shaped like ``staging.stg_hubspot__contacts``; ``touchpoints``: like
    ``intermediate.int_touchpoints_channeled`` (channel, tenant-local time). A lead's journey is its
    ``anonymous_id``'s sessions up to the lead time.
    """
    paid = ", ".join(f"'{c}'" for c in PAID_CHANNELS)
    opt_in = "c.marketing_opt_in::double" if has_opt_in else "null::double"
    return f"""
    with leads as (
        select tenant_id, contact_id, anonymous_id,
               coalesce(became_lead_at, created_at) as created_at,
               became_customer_at as converted_at,
               {opt_in} as marketing_opt_in
        from {contacts} as c
        where not coalesce(is_archived, false)
    ),
    journeys as (
        select l.tenant_id, l.contact_id,
               count(*) filter (where t.event_type = 'session') as sessions_before_lead,
               count(distinct t.landing_page) as pages_before_lead,
               count(*) filter (where t.event_type = 'session' and t.landing_page like '/products/%')
                   as product_pages_before_lead,
               count(*) filter (where t.event_type = 'session' and t.channel in ({paid}))
                   as paid_sessions_before_lead,
               arg_min(t.channel, t.event_ts) filter (where t.event_type = 'session') as first_touch_channel,
               arg_max(t.channel, t.event_ts) filter (where t.event_type = 'session') as lead_channel,
               arg_max(t.landing_page, t.event_ts) filter (where t.event_type = 'lead') as lead_form,
               min(t.event_ts) as first_touch_at,
               max(t.event_ts_local) filter (where t.event_type = 'lead') as lead_at_local
        from leads as l
        join {touchpoints} as t
            on t.tenant_id = l.tenant_id
            and t.anonymous_id = l.anonymous_id
            and t.event_ts <= l.created_at
        group by l.tenant_id, l.contact_id
    )
    select l.tenant_id, l.contact_id, l.created_at, l.converted_at,
           j.first_touch_channel, j.lead_channel, j.lead_form,
           coalesce(j.sessions_before_lead, 0)::double as sessions_before_lead,
           coalesce(j.pages_before_lead, 0)::double as pages_before_lead,
           coalesce(j.product_pages_before_lead, 0)::double as product_pages_before_lead,
           coalesce(j.paid_sessions_before_lead, 0)::double as paid_sessions_before_lead,
           date_diff('second', j.first_touch_at, l.created_at) / 86400.0 as days_first_touch_to_lead,
           hour(j.lead_at_local)::double as lead_hour,
           isodow(j.lead_at_local)::double as lead_weekday,
           l.marketing_opt_in
    from leads as l
    left join journeys as j using (tenant_id, contact_id)
    order by l.tenant_id, l.contact_id
    """


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = ? and table_name = ? and column_name = ?",
            [schema, table, column],
        ).fetchall()[0][0]
    )


class CampaignForecastConfig(dg.Config):
    top_n: int = 5  # largest campaigns per tenant, by spend over the last rank_window_days
    rank_window_days: int = 90
    horizon: int = 28
    interval_level: float = 0.8


def _campaign_forecast(daily: pl.DataFrame, config: CampaignForecastConfig, **kwargs) -> ForecastResult:
    return forecast_campaign_metrics(
        daily,
        top_n=config.top_n,
        rank_window_days=config.rank_window_days,
        horizon=config.horizon,
        interval_level=config.interval_level,
        **kwargs,
    )


@dg.asset(
    key=["ml", "forecast_campaign_backtest"],
    deps=[AD_PERFORMANCE],
    group_name="ml",
    kinds={"statsmodels", "duckdb"},
    description="Rolling-origin backtest of the campaign forecasts (the weekly model selection): MASE "
    "of every candidate against seasonal naive; the daily forecast refits the chosen one.",
)
def campaign_forecast_backtest(
    context: dg.AssetExecutionContext, config: CampaignForecastConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        daily = con.sql(CAMPAIGN_DAILY_SQL).pl()
    result = _campaign_forecast(daily, config, backtest_only=True)
    with warehouse.connect() as con:
        create_or_replace(con, "ml.forecast_campaign_backtest", result.backtest)
    chosen = chosen_models(result.backtest).join(
        result.backtest, on=["tenant_id", "channel", "campaign_id", "metric", "model"]
    )
    median_mase = chosen["mase"].drop_nulls().median() if chosen.height else None
    context.log.info(
        f"campaign forecast backtest: {chosen.height} series; median MASE of chosen models {median_mase}"
    )
    return dg.MaterializeResult(
        metadata={
            "rows": result.backtest.height,
            "median_mase_chosen": float(median_mase) if median_mase is not None else None,  # type: ignore[arg-type]
        }
    )


@dg.asset(
    key=["ml", "forecast_campaign_daily"],
    deps=[AD_PERFORMANCE, ["ml", "forecast_campaign_backtest"]],
    group_name="ml",
    kinds={"statsmodels", "duckdb"},
    description="28-day forecast of spend, conversions and revenue of each tenant's largest "
    "campaigns (top N by recent spend), with prediction intervals: the model the weekly backtest "
    "chose, refitted on today's data (a campaign new to the top N is selected afresh).",
)
def campaign_forecast(
    context: dg.AssetExecutionContext, config: CampaignForecastConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        daily = con.sql(CAMPAIGN_DAILY_SQL).pl()
        chosen = stored_choice(read_if_exists(con, "ml.forecast_campaign_backtest"))
    result = _campaign_forecast(daily, config, chosen=chosen)
    with warehouse.connect() as con:
        create_or_replace(con, "ml.forecast_campaign_daily", result.forecasts)
        replace_by_keys(
            con,
            "ml.forecast_campaign_backtest",
            result.backtest,
            ["tenant_id", "channel", "campaign_id", "metric"],
        )
    selected = log_forecast(context, "campaign forecast", result, chosen)
    return dg.MaterializeResult(
        metadata={"rows": result.forecasts.height, "series_selected_afresh": selected}
    )


# Planned campaign budgets: a relation with tenant_id, platform, campaign_id, date, daily_budget (one
# row per day or per change). Where it covers a day, spend is scored as pacing against it, so planned
# budget changes do not alarm. dbt builds it from the platforms' budget change logs (INTERFACES §7.4).
BUDGETS_KEY = ["intermediate", "int_campaign_budget_daily"]
CAMPAIGN_BUDGETS = ".".join(BUDGETS_KEY)


class AnomalyConfig(dg.Config):
    weeks: int = AnomalySettings.weeks
    threshold: float = AnomalySettings.threshold
    min_spend: float = AnomalySettings.min_spend
    min_conversions: float = AnomalySettings.min_conversions
    budgets_relation: str = CAMPAIGN_BUDGETS


def _read_budgets(con: duckdb.DuckDBPyConnection, relation: str) -> pl.DataFrame | None:
    """The planned budgets relation when it exists (schema.table), else None."""
    if not table_exists(con, relation):
        return None
    schema, _, table = relation.partition(".")
    return con.sql(
        f'select tenant_id, platform, campaign_id, date, daily_budget from "{schema}"."{table}"'
    ).pl()


@dg.asset(
    key=["ml", "anomalies"],
    deps=[AD_PERFORMANCE, BUDGETS_KEY],
    group_name="ml",
    kinds={"polars", "duckdb"},
    description="Campaign-day anomalies in spend, CPA, CTR, conversions and ROAS against the same "
    "weekday of recent weeks (robust median/MAD scores, minimum-volume rules, spend as pacing against "
    "planned budgets on the days they are known, else within a budget-management band), grouped into "
    "one alert per incident (alert_id).",
)
def campaign_anomalies(
    context: dg.AssetExecutionContext, config: AnomalyConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = AnomalySettings(
        weeks=config.weeks,
        min_weeks=min(AnomalySettings.min_weeks, config.weeks),
        threshold=config.threshold,
        min_spend=config.min_spend,
        min_conversions=config.min_conversions,
    )
    with warehouse.connect() as con:
        daily = con.sql(CAMPAIGN_DAILY_SQL).pl()
        budgets = _read_budgets(con, config.budgets_relation)
    # The model picks the basis per day: pacing where the budget history covers the day and its
    # reference days (Meta's full activity log, Google's last 30 days), the spend's own history elsewhere.
    anomalies = detect_anomalies(daily, settings, budgets)
    with warehouse.connect() as con:
        create_or_replace(con, "ml.anomalies", anomalies)
    by_severity = dict(anomalies.group_by("severity").len().iter_rows()) if anomalies.height else {}
    n_alerts = anomalies["alert_id"].n_unique() if anomalies.height else 0
    context.log.info(
        f"anomalies: {anomalies.height} flagged campaign-day metrics in {n_alerts} alerts ({by_severity}); "
        f"planned budgets {'used' if budgets is not None else 'not available'}"
    )
    return dg.MaterializeResult(
        metadata={
            "rows": anomalies.height,
            "alerts": n_alerts,
            "budgets_used": budgets is not None,
            **{f"severity_{k}": v for k, v in sorted(by_severity.items())},
        }
    )


class FatigueConfig(dg.Config):
    min_decay: float = FatigueSettings.min_decay
    min_lr: float = FatigueSettings.min_lr


@dg.asset(
    key=["ml", "creative_fatigue"],
    deps=[AD_PERFORMANCE],
    group_name="ml",
    kinds={"numpy", "duckdb"},
    description="Per ad: CTR decay from its peak (wear-out curve fitted on age: plateau, onset, "
    "half-life, floor; likelihood-ratio evidence), its onset and whether the creative is fatigued.",
)
def creative_fatigue(
    context: dg.AssetExecutionContext, config: FatigueConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        daily = con.sql(AD_DAILY_SQL).pl()
    fatigue = detect_fatigue(daily, FatigueSettings(min_decay=config.min_decay, min_lr=config.min_lr))
    with warehouse.connect() as con:
        create_or_replace(con, "ml.creative_fatigue", fatigue)
    n_fatigued = int(fatigue["fatigued"].sum()) if fatigue.height else 0
    context.log.info(f"creative fatigue: {n_fatigued} of {fatigue.height} scored ads fatigued")
    return dg.MaterializeResult(metadata={"ads_scored": fatigue.height, "ads_fatigued": n_fatigued})


class LeadScoringConfig(dg.Config):
    label_window_days: int = LeadScoringSettings.label_window_days
    test_days: int = LeadScoringSettings.test_days


LEAD_INPUTS = [["staging", "stg_hubspot__contacts"], ["intermediate", "int_touchpoints_channeled"]]
LEAD_MODEL_STORE = "ml.lead_model_store"  # one row per tenant: the fitted model, pickled
LEAD_STORE_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "model_version": pl.String(),
    "trained_at": pl.Datetime("us"),
    "cutoff": pl.Datetime("us"),
    "sklearn_version": pl.String(),
    "artifact": pl.Binary(),
}


def _lead_inputs(warehouse: WarehouseResource) -> tuple[pl.DataFrame, datetime]:
    """One row per lead with its features, and the data's end (the last touchpoint)."""
    with warehouse.connect() as con:
        has_opt_in = _has_column(con, "staging", "stg_hubspot__contacts", "marketing_opt_in")
        sql = lead_features_sql(
            "staging.stg_hubspot__contacts", "intermediate.int_touchpoints_channeled", has_opt_in=has_opt_in
        )
        leads = con.sql(sql).pl()
        # the data's end: the last touchpoint (CRM timestamps may lag or lead it a little)
        as_of = con.execute("select max(event_ts) from intermediate.int_touchpoints_channeled").fetchall()[0][
            0
        ]
    return leads, as_of or datetime(1970, 1, 1)


def _lead_settings(config: LeadScoringConfig) -> LeadScoringSettings:
    return LeadScoringSettings(label_window_days=config.label_window_days, test_days=config.test_days)


def store_lead_models(con: duckdb.DuckDBPyConnection, models: dict[str, LeadModel]) -> int:
    """Replace `ml.lead_model_store` with these fitted models (pickled, with the sklearn version)."""
    import sklearn

    rows = [
        {
            "tenant_id": m.tenant_id,
            "model_version": m.model_version,
            "trained_at": m.trained_at,
            "cutoff": m.cutoff,
            "sklearn_version": sklearn.__version__,
            "artifact": pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL),
        }
        for m in models.values()
    ]
    return create_or_replace(con, LEAD_MODEL_STORE, pl.DataFrame(rows, schema=LEAD_STORE_SCHEMA))


def load_lead_models(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, LeadModel] | None, str]:
    """The stored models by tenant, or (None, why) when none can be used: no store yet, an empty
    one, or models pickled by another scikit-learn version (then the caller fits afresh)."""
    import sklearn

    if not _has_column(con, "ml", "lead_model_store", "artifact"):
        return None, f"no {LEAD_MODEL_STORE} yet"
    stored = con.sql(f"select tenant_id, sklearn_version, artifact from {LEAD_MODEL_STORE}").pl()
    if stored.height == 0:
        return None, f"{LEAD_MODEL_STORE} holds no model"
    versions = set(stored["sklearn_version"].to_list())
    if versions != {sklearn.__version__}:
        return None, f"stored models are from scikit-learn {sorted(versions)}, this is {sklearn.__version__}"
    models: dict[str, LeadModel] = {}
    for tenant, artifact in zip(stored["tenant_id"], stored["artifact"], strict=True):
        model = pickle.loads(artifact)  # written by store_lead_models into our own warehouse
        if not isinstance(model, LeadModel) or model.tenant_id != tenant:
            raise ValueError(f"{LEAD_MODEL_STORE}: the row of tenant {tenant!r} does not hold its LeadModel")
        models[tenant] = model
    return models, "stored"


def _log_model_rows(context: dg.AssetExecutionContext, model_rows: pl.DataFrame) -> None:
    for row in model_rows.iter_rows(named=True):
        context.log.info(
            f"lead model {row['tenant_id']}: {row['status']}, AUC {row['auc']}, "
            f"top-decile lift {row['lift_top_decile']}, test n {row['n_test']}"
        )


@dg.asset(
    key=["ml", "lead_model"],
    deps=LEAD_INPUTS,
    group_name="ml",
    kinds={"scikitlearn", "duckdb"},
    description="The lead-scoring model per tenant, fitted and calibrated weekly: time-based hold-out "
    "AUC, top-decile lift, cutoff; the fitted models themselves in ml.lead_model_store.",
)
def lead_model(
    context: dg.AssetExecutionContext, config: LeadScoringConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    leads, as_of = _lead_inputs(warehouse)
    model_rows, fitted = fit_lead_models(leads, as_of, _lead_settings(config))
    with warehouse.connect() as con:
        create_or_replace(con, "ml.lead_model", model_rows)
        store_lead_models(con, fitted)
    _log_model_rows(context, model_rows)
    ok = model_rows.filter(pl.col("status") == "ok")
    return dg.MaterializeResult(
        metadata={
            "tenants_scored": ok.height,
            "min_auc": float(ok["auc"].min()) if ok.height else None,  # type: ignore[arg-type]
            "trained_at": str(as_of),
        }
    )


@dg.asset(
    key=["ml", "lead_scores"],
    deps=[*LEAD_INPUTS, ["ml", "lead_model"]],
    group_name="ml",
    kinds={"scikitlearn", "duckdb"},
    description="Calibrated probability that each CRM lead becomes a customer, with its decile: every "
    "lead scored daily by the weekly model (fitted here when none is stored).",
)
def lead_scores(
    context: dg.AssetExecutionContext, config: LeadScoringConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    leads, as_of = _lead_inputs(warehouse)
    settings = _lead_settings(config)
    with warehouse.connect() as con:
        models, why = load_lead_models(con)
    if models is None:
        context.log.info(f"lead scores: {why}; fitting the lead models now")
        model_rows, models = fit_lead_models(leads, as_of, settings)
        with warehouse.connect() as con:
            create_or_replace(con, "ml.lead_model", model_rows)
            store_lead_models(con, models)
        _log_model_rows(context, model_rows)
    scores = score_with_models(leads, models, as_of, settings)
    with warehouse.connect() as con:
        create_or_replace(con, "ml.lead_scores", scores)
    versions = sorted({m.model_version for m in models.values()})
    context.log.info(
        f"lead scores: {scores.height} leads scored with {versions} ({why if why == 'stored' else 'fitted now'})"
    )
    return dg.MaterializeResult(
        metadata={"rows": scores.height, "model_versions": ", ".join(versions), "model_source": why}
    )
