"""The serving layer: publish the read-only snapshot the dashboards open."""

from pathlib import Path

import dagster as dg

from pipelines.publish import publish_snapshot
from pipelines.resources import WarehouseResource


class PublishConfig(dg.Config):
    destination: str


SNAPSHOT_DEPS = [
    ["marts", "dim_tenants"],
    ["marts", "fct_channel_daily"],
    ["marts", "fct_ad_performance_daily"],
    ["ml", "forecast_channel_daily"],
    ["ml", "forecast_backtest"],
    ["ml", "attribution_channel"],
    ["ml", "forecast_campaign_daily"],
    ["ml", "forecast_campaign_backtest"],
    ["ml", "anomalies"],
    ["ml", "creative_fatigue"],
    ["ml", "lead_scores"],
    ["ml", "lead_model"],
    ["activation", "decisions"],
    *(
        ["ml", name]
        for name in (
            "mmm_channel",
            "mmm_fit",
            "mmm_decomposition",
            "response_curves",
            "budget_plan",
            "mmm_calibration",
        )
    ),
]


def build_serving_snapshot(destination: Path) -> dg.AssetsDefinition:
    @dg.asset(
        key=["serving", "snapshot"],
        deps=SNAPSHOT_DEPS,
        group_name="serving",
        kinds={"duckdb"},
        description="Read-only DuckDB snapshot for the dashboards, replaced atomically.",
    )
    def serving_snapshot(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        counts = publish_snapshot(Path(warehouse.path), destination, run_id=context.run_id)
        return dg.MaterializeResult(
            metadata={"path": str(destination), **{f"rows_{k}": v for k, v in counts.items()}}
        )

    return serving_snapshot
