{#
    Every closed-won, non-archived raw deal is attributed exactly once: per tenant, the number and
    amount of such deals in raw.hubspot_deals equal attributed_conversions and attributed_revenue
    summed over fct_channel_daily. No rows = pass.
#}
{#- Several parents: tell Dagster (dagster-dbt) which asset this check belongs to. #}
{{ config(meta={"dagster": {"ref": {"name": "fct_channel_daily"}}}) }}

with

raw_won_deals as (

    select
        tenant_id,
        count(*) as conversions,
        sum(amount) as revenue

    from {{ source('raw', 'hubspot_deals') }}
    where lower(dealstage) = 'closedwon'
        and not coalesce(archived, false)
    group by tenant_id

),

mart_attributed as (

    select
        tenant_id,
        sum(attributed_conversions) as conversions,
        sum(attributed_revenue) as revenue

    from {{ ref('fct_channel_daily') }}
    group by tenant_id

),

compared as (

    select
        coalesce(raw_won_deals.tenant_id, mart_attributed.tenant_id) as tenant_id,
        coalesce(raw_won_deals.conversions, 0) as raw_conversions,
        coalesce(mart_attributed.conversions, 0) as mart_conversions,
        coalesce(raw_won_deals.revenue, 0) as raw_revenue,
        coalesce(mart_attributed.revenue, 0) as mart_revenue

    from raw_won_deals
    full outer join mart_attributed
        on mart_attributed.tenant_id = raw_won_deals.tenant_id

)

select *
from compared
where raw_conversions <> mart_conversions
    or raw_revenue <> mart_revenue
