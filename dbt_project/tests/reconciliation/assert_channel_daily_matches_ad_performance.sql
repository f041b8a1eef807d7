{#
    fct_channel_daily carries exactly the paid delivery of fct_ad_performance_daily: spend (to the
    cent), impressions and clicks per tenant and day. No rows = pass.
#}
{#- Several parents: tell Dagster (dagster-dbt) which asset this check belongs to. #}
{{ config(meta={"dagster": {"ref": {"name": "fct_channel_daily"}}}) }}

with

ad_totals as (

    select
        tenant_id,
        date,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks

    from {{ ref('fct_ad_performance_daily') }}
    group by tenant_id, date

),

channel_totals as (

    select
        tenant_id,
        date,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks

    from {{ ref('fct_channel_daily') }}
    group by tenant_id, date

),

compared as (

    select
        coalesce(ad_totals.tenant_id, channel_totals.tenant_id) as tenant_id,
        coalesce(ad_totals.date, channel_totals.date) as date,
        coalesce(ad_totals.spend, 0) as ad_spend,
        coalesce(channel_totals.spend, 0) as channel_spend,
        coalesce(ad_totals.impressions, 0) as ad_impressions,
        coalesce(channel_totals.impressions, 0) as channel_impressions,
        coalesce(ad_totals.clicks, 0) as ad_clicks,
        coalesce(channel_totals.clicks, 0) as channel_clicks

    from ad_totals
    full outer join channel_totals
        on channel_totals.tenant_id = ad_totals.tenant_id
        and channel_totals.date = ad_totals.date

)

select *
from compared
where ad_spend <> channel_spend
    or ad_impressions <> channel_impressions
    or ad_clicks <> channel_clicks
