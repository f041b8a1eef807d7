"""ML assets: read marts, call pure `models_ml` functions, write `ml.*` (DESIGN.md §7).

Cadence (README, "Daily runs"): the forecasts' model selection (the rolling-origin backtest) is an
asset of its own that the weekly refit runs; the daily forecast refits only the model that
selection chose per series (`chosen=`), and selects as usual a series it does not know (or every
series, when no selection is stored yet).
"""

import dagster as dg
import duckdb
import polars as pl

from models_ml.forecast import ForecastResult, chosen_models, forecast_channel_metrics
from pipelines.resources import WarehouseResource
from pipelines.warehouse import create_or_replace, replace_by_keys, table_exists

FORECAST_HORIZON_DAYS = 28

CHANNEL_DAILY_SQL = """
    select tenant_id, channel, date,
           spend::double as spend,
           attributed_conversions::double as conversions,
           attributed_revenue::double as revenue
    from marts.fct_channel_daily
    order by tenant_id, channel, date
"""


class ForecastConfig(dg.Config):
    horizon: int = FORECAST_HORIZON_DAYS
    interval_level: float = 0.8


def read_if_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> pl.DataFrame | None:
    """The whole table `schema.table`, or None when it does not exist yet."""
    return con.sql(f"select * from {qualified}").pl() if table_exists(con, qualified) else None


def stored_choice(backtest: pl.DataFrame | None) -> pl.DataFrame | None:
    """The model each series chose in the stored backtest (None: nothing stored, select afresh)."""
    return chosen_models(backtest) if backtest is not None and backtest.height else None


def log_forecast(context: dg.AssetExecutionContext, what: str, result: ForecastResult, chosen) -> int:
    """Log how many series were refitted from the stored choice and how many selected afresh."""
    key_cols = [c for c in ("tenant_id", "channel", "campaign_id") if c in result.forecasts.columns]
    series = result.forecasts.select(*key_cols, "metric").unique().height
    selected = result.backtest.select(*key_cols, "metric").unique().height if result.backtest.height else 0
    source = (
        "no stored selection" if chosen is None else f"{series - selected} refitted from the stored selection"
    )
    context.log.info(f"{what}: {series} series; {source}, {selected} selected afresh (backtest)")
    return selected


@dg.asset(
    key=["ml", "forecast_backtest"],
    deps=[["marts", "fct_channel_daily"]],
    group_name="ml",
    kinds={"statsmodels", "duckdb"},
    description="Rolling-origin backtest of the channel forecast (the weekly model selection): "
    "MASE of every candidate against seasonal naive; the daily forecast refits the chosen one.",
)
def channel_forecast_backtest(
    context: dg.AssetExecutionContext, config: ForecastConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        daily = con.sql(CHANNEL_DAILY_SQL).pl()
    result = forecast_channel_metrics(
        daily, horizon=config.horizon, interval_level=config.interval_level, backtest_only=True
    )
    with warehouse.connect() as con:
        create_or_replace(con, "ml.forecast_backtest", result.backtest)
    backtest = result.backtest
    median_mase = backtest["mase"].drop_nans().drop_nulls().median() if backtest.height else None
    beat = backtest.filter(pl.col("mase") < 1).height
    context.log.info(f"forecast backtest: {backtest.height} rows; median MASE {median_mase}")
    return dg.MaterializeResult(
        metadata={
            "rows": backtest.height,
            "median_mase": float(median_mase) if median_mase is not None else None,  # type: ignore[arg-type]
            "series_beating_seasonal_naive": beat,
        }
    )


@dg.asset(
    key=["ml", "forecast_channel_daily"],
    deps=[["marts", "fct_channel_daily"], ["ml", "forecast_backtest"]],
    group_name="ml",
    kinds={"statsmodels", "duckdb"},
    description="28-day forecast of spend, conversions and revenue per tenant and channel, with "
    "prediction intervals: the model the weekly backtest chose, refitted on today's data.",
)
def channel_forecast(
    context: dg.AssetExecutionContext, config: ForecastConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        daily = con.sql(CHANNEL_DAILY_SQL).pl()
        chosen = stored_choice(read_if_exists(con, "ml.forecast_backtest"))
    result = forecast_channel_metrics(
        daily, horizon=config.horizon, interval_level=config.interval_level, chosen=chosen
    )
    with warehouse.connect() as con:
        create_or_replace(con, "ml.forecast_channel_daily", result.forecasts)
        # series the stored selection did not know were backtested now: keep their record
        replace_by_keys(con, "ml.forecast_backtest", result.backtest, ["tenant_id", "channel", "metric"])
    selected = log_forecast(context, "channel forecast", result, chosen)
    return dg.MaterializeResult(
        metadata={"rows": result.forecasts.height, "series_selected_afresh": selected}
    )
