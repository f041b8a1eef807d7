{#
    The rule-based mart's last_touch model and fct_channel_daily's last-touch columns are the same
    attribution: equal conversions and revenue per tenant, date and channel. No rows = pass.
#}
{{ config(meta={"dagster": {"ref": {"name": "fct_attribution_rule_based"}}}) }}

with

rule_based as (

    select
        tenant_id,
        date,
        channel,
        conversions,
        revenue

    from {{ ref('fct_attribution_rule_based') }}
    where model = 'last_touch'

),

channel_daily as (

    select
        tenant_id,
        date,
        channel,
        attributed_conversions as conversions,
        attributed_revenue as revenue

    from {{ ref('fct_channel_daily') }}
    where attributed_conversions > 0

),

compared as (

    select
        coalesce(rule_based.tenant_id, channel_daily.tenant_id) as tenant_id,
        coalesce(rule_based.date, channel_daily.date) as date,
        coalesce(rule_based.channel, channel_daily.channel) as channel,
        coalesce(rule_based.conversions, 0) as rule_based_conversions,
        coalesce(channel_daily.conversions, 0) as channel_daily_conversions,
        coalesce(rule_based.revenue, 0) as rule_based_revenue,
        coalesce(channel_daily.revenue, 0) as channel_daily_revenue

    from rule_based
    full outer join channel_daily
        on channel_daily.tenant_id = rule_based.tenant_id
        and channel_daily.date = rule_based.date
        and channel_daily.channel = rule_based.channel

)

select *
from compared
where abs(rule_based_conversions - channel_daily_conversions) > 1e-9
    or rule_based_revenue <> channel_daily_revenue
