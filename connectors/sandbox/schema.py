"""Column names and dtypes of every sandbox table (docs/INTERFACES.md §1), in saved column order."""

from __future__ import annotations

import polars as pl

S, D, F, INT = pl.String, pl.Date, pl.Float64, pl.Int64
TS = pl.Datetime("us")  # naive, UTC

WORLD_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "tenants": {"tenant_id": S, "name": S, "currency": S, "timezone": S},
    "accounts": {"tenant_id": S, "platform": S, "account_id": S, "name": S, "currency": S, "timezone": S},
    "campaigns": {
        "tenant_id": S,
        "platform": S,
        "account_id": S,
        "campaign_id": S,
        "campaign_name": S,
        "objective": S,
        "status": S,
        "start_date": D,
        "end_date": D,
        "target_cpa": F,
        "budget_id": S,
        "daily_budget": F,
    },
    "ad_groups": {
        "tenant_id": S,
        "platform": S,
        "account_id": S,
        "campaign_id": S,
        "ad_group_id": S,
        "ad_group_name": S,
        "status": S,
        "daily_budget": F,
    },
    "ads": {
        "tenant_id": S,
        "platform": S,
        "account_id": S,
        "campaign_id": S,
        "ad_group_id": S,
        "ad_id": S,
        "ad_name": S,
        "status": S,
        "launch_date": D,
    },
    "delivery": {
        "tenant_id": S,
        "platform": S,
        "account_id": S,
        "campaign_id": S,
        "ad_group_id": S,
        "ad_id": S,
        "date": D,
        "spend_micros": INT,
        "impressions": INT,
        "clicks": INT,
        "platform_conversions": F,
        "platform_conversion_value": F,
    },
    "fx_rates": {"date": D, "currency": S, "rate_to_usd": F},
    "contacts": {
        "tenant_id": S,
        "contact_id": S,
        "email": S,
        "firstname": S,
        "lastname": S,
        "anonymous_id": S,
        "created_at": TS,
        "updated_at": TS,
        "lifecyclestage": S,
        "lead_date": TS,
        "mql_date": TS,
        "sql_date": TS,
        "opportunity_date": TS,
        "customer_date": TS,
    },
    "deals": {
        "tenant_id": S,
        "deal_id": S,
        "contact_id": S,
        "dealname": S,
        "amount": F,
        "dealstage": S,
        "pipeline": S,
        "createdate": TS,
        "closedate": TS,
        "updated_at": TS,
    },
    "touchpoints": {
        "tenant_id": S,
        "event_id": S,
        "anonymous_id": S,
        "event_ts": TS,
        "event_type": S,
        "utm_source": S,
        "utm_medium": S,
        "utm_campaign": S,
        "landing_page": S,
    },
}

TRUTH_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "channel_params": {
        "tenant_id": S,
        "channel": S,
        "adstock_decay": F,
        "hill_k": F,
        "hill_alpha": F,
        "beta": F,
        "revenue_per_conversion": F,
    },
    "channel_daily": {
        "tenant_id": S,
        "date": D,
        "channel": S,
        "spend": F,
        "adstock": F,
        "incremental_conversions": F,
        "incremental_revenue": F,
    },
    "baseline_daily": {
        "tenant_id": S,
        "date": D,
        "baseline_conversions": F,
        "total_conversions": INT,
        "total_revenue": F,
    },
    "roi": {"tenant_id": S, "channel": S, "spend": F, "incremental_revenue": F, "roi": F, "mroi": F},
    # Extensions beyond INTERFACES §1 (documented in README.md):
    "conversions": {"tenant_id": S, "date": D, "deal_id": S, "contact_id": S, "cause": S, "amount": F},
    "ad_params": {
        "tenant_id": S,
        "platform": S,
        "ad_id": S,
        "delivery_weight": F,
        "ctr_base": F,
        "cpm_base": F,
        "fatigue_halflife_days": F,
        "fatigue_floor": F,
        "landing_page": S,
    },
}


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Exactly the schema's columns, in its order, with its dtypes."""
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
