"""ML assets: read marts, call pure `models_ml` functions, write `ml.*` (DESIGN.md §7)."""

import dagster as dg
import polars as pl

from models_ml.forecast import forecast_channel_metrics
from pipelines.resources import WarehouseResource
from pipelines.warehouse import create_or_replace

FORECAST_HORIZON_DAYS = 28


class ForecastConfig(dg.Config):
    horizon: int = FORECAST_HORIZON_DAYS
    interval_level: float = 0.8


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["ml", "forecast_channel_daily"],
            deps=[["marts", "fct_channel_daily"]],
            description="28-day forecast of spend, conversions and revenue per tenant and channel, "
            "with prediction intervals.",
            kinds={"statsmodels", "duckdb"},
        ),
        dg.AssetSpec(
            ["ml", "forecast_backtest"],
            deps=[["marts", "fct_channel_daily"]],
            description="Rolling-origin backtest of the forecast: MASE against seasonal naive.",
            kinds={"statsmodels", "duckdb"},
        ),
    ],
    group_name="ml",
)
def channel_forecast(context: dg.AssetExecutionContext, config: ForecastConfig, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        daily = con.sql(
            """
            select tenant_id, channel, date,
                   spend::double as spend,
                   attributed_conversions::double as conversions,
                   attributed_revenue::double as revenue
            from marts.fct_channel_daily
            order by tenant_id, channel, date
            """
        ).pl()
    result = forecast_channel_metrics(daily, horizon=config.horizon, interval_level=config.interval_level)
    with warehouse.connect() as con:
        create_or_replace(con, "ml.forecast_channel_daily", result.forecasts)
        create_or_replace(con, "ml.forecast_backtest", result.backtest)
    backtest = result.backtest
    median_mase = backtest["mase"].drop_nans().drop_nulls().median() if backtest.height else None
    beat = backtest.filter(pl.col("mase") < 1).height
    context.log.info(f"forecast: {result.forecasts.height} rows; median MASE {median_mase}")
    yield dg.MaterializeResult(
        asset_key=["ml", "forecast_channel_daily"],
        metadata={"rows": result.forecasts.height, "series": backtest.height},
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "forecast_backtest"],
        metadata={
            "rows": backtest.height,
            "median_mase": float(median_mase) if median_mase is not None else None,
            "series_beating_seasonal_naive": beat,
        },
    )
