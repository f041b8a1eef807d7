"""Attribution asset: path counts from the attribution marts -> models_ml -> ml.attribution_channel.

Data-driven models (Markov removal effects of every counted order, Shapley) and the rule-based
models of `marts.fct_attribution_rule_based`, side by side per tenant and period (the periods of
`intermediate.int_attribution_periods`: the full window and the recent days).
"""

import dagster as dg
import polars as pl

from models_ml.attribution import attribute_periods
from pipelines.resources import WarehouseResource
from pipelines.warehouse import create_or_replace

ATTRIBUTION_MARTS = [
    ["marts", "fct_attribution_transitions"],
    ["marts", "fct_attribution_coalitions"],
    ["marts", "fct_attribution_rule_based"],
    ["intermediate", "int_attribution_periods"],
]

TRANSITIONS_SQL = """
    select tenant_id, period_start, period_end, markov_order, from_state, to_state, transitions
    from marts.fct_attribution_transitions
    order by tenant_id, period_start, period_end, markov_order
"""
COALITIONS_SQL = """
    select tenant_id, period_start, period_end, channel_set, journeys, conversions,
           revenue::double as revenue
    from marts.fct_attribution_coalitions
    order by tenant_id, period_start, period_end, channel_set
"""
# The daily rule-based credit summed over each period (aggregates only leave the warehouse).
RULE_BASED_SQL = """
    select periods.tenant_id, periods.period_start, periods.period_end, credit.model, credit.channel,
           sum(credit.conversions) as conversions, sum(credit.revenue)::double as revenue
    from marts.fct_attribution_rule_based as credit
    inner join intermediate.int_attribution_periods as periods
        on periods.tenant_id = credit.tenant_id
        and credit.date between periods.period_start and periods.period_end
    group by all
"""


@dg.asset(
    key=["ml", "attribution_channel"],
    deps=ATTRIBUTION_MARTS,
    group_name="ml",
    kinds={"scipy", "duckdb"},
    description="Conversions and revenue credited per tenant, period and channel by data-driven "
    "(Markov removal effects, Shapley) and rule-based attribution models, side by side.",
)
def attribution_channel(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        transitions = con.sql(TRANSITIONS_SQL).pl()
        coalitions = con.sql(COALITIONS_SQL).pl()
        rule_based = con.sql(RULE_BASED_SQL).pl()
    result = attribute_periods(transitions, coalitions, rule_based)
    with warehouse.connect() as con:
        create_or_replace(con, "ml.attribution_channel", result)
    models = sorted(result["model"].unique().to_list())
    context.log.info(f"attribution: {result.height} rows, models {', '.join(models)}")
    return dg.MaterializeResult(
        metadata={
            "rows": result.height,
            "models": ", ".join(models),
            "periods": result.select("tenant_id", "period_start", "period_end").unique().height,
            "transition_rows_read": transitions.height,
            "coalition_rows_read": coalitions.height,
            "channels": result.filter(pl.col("model") == "shapley")["channel"].n_unique(),
        }
    )
