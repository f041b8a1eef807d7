{#
    Mart totals equal raw totals per tenant and day (DESIGN §6): spend, impressions, clicks,
    platform conversions and row counts of fct_ad_performance_daily against raw Meta insights +
    raw Google ad stats + raw LinkedIn creative stats + raw TikTok ad stats + the imported ad reports not already loaded by API. Raw Google spend is
    the exact sum(cost_micros) / 1e6; the mart rounds each row to the cent (half away from zero),
    so a day may differ by at most half a cent per Google row. Returns the disagreeing tenant-days; no rows = pass.
#}
{#- Several parents: tell Dagster (dagster-dbt) which asset this check belongs to. #}
{{ config(meta={"dagster": {"ref": {"name": "fct_ad_performance_daily"}}}) }}

with

raw_meta as (

    select
        tenant_id,
        date_start as date,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as platform_conversions,
        count(*) as n_rows,
        0 as n_rounded_rows

    from {{ source('raw', 'meta_ads_insights') }}
    group by tenant_id, date_start

),

raw_google as (

    select
        tenant_id,
        date,
        cast(sum(cost_micros) as decimal(38, 0)) * cast(0.000001 as decimal(7, 6)) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as platform_conversions,
        count(*) as n_rows,
        count(*) as n_rounded_rows

    from {{ source('raw', 'google_ads_ad_stats') }}
    group by tenant_id, date

),

raw_linkedin as (

    select
        tenant_id,
        date,
        sum(cost_in_local_currency) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(external_website_conversions) as platform_conversions,
        count(*) as n_rows,
        0 as n_rounded_rows

    from {{ source('raw', 'linkedin_ads_creative_stats') }}
    group by tenant_id, date

),

raw_tiktok as (

    select
        tenant_id,
        stat_time_day as date,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversion) as platform_conversions,
        count(*) as n_rows,
        0 as n_rounded_rows

    from {{ source('raw', 'tiktok_ads_ad_stats') }}
    group by tenant_id, stat_time_day

),

{#- Imported reports count where no API row covers the same tenant+platform+day or
    tenant+campaign+day (the rule of int_ad_performance_unioned), latest drop per row. -#}
raw_imported_latest as (

    select
        *,
        row_number() over (
            partition by tenant_id, platform, account_id, date, campaign_id, ad_group_id, ad_id
            order by _partition desc, _loaded_at desc
        ) as drop_rank

    from {{ source('raw', 'imported_ad_reports') }}

),

raw_api_rows as (

    select tenant_id, 'meta' as platform, campaign_id, date_start as date
    from {{ source('raw', 'meta_ads_insights') }}
    union all
    select tenant_id, 'google_ads' as platform, campaign_id, date
    from {{ source('raw', 'google_ads_ad_stats') }}
    union all
    select tenant_id, 'linkedin' as platform, campaign_group_id as campaign_id, date
    from {{ source('raw', 'linkedin_ads_creative_stats') }}
    union all
    select tenant_id, 'tiktok' as platform, campaign_id, stat_time_day as date
    from {{ source('raw', 'tiktok_ads_ad_stats') }}

),

raw_imported as (

    select
        tenant_id,
        date,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as platform_conversions,
        count(*) as n_rows,
        0 as n_rounded_rows

    from raw_imported_latest as imported
    where drop_rank = 1
        and not exists (
            select 1 from raw_api_rows as api
            where api.tenant_id = imported.tenant_id
                and api.date = imported.date
                and (api.platform = lower(imported.platform) or api.campaign_id = imported.campaign_id)
        )
    group by tenant_id, date

),

raw_unioned as (

    select * from raw_meta
    union all
    select * from raw_google
    union all
    select * from raw_linkedin
    union all
    select * from raw_tiktok
    union all
    select * from raw_imported

),

raw_totals as (

    select
        tenant_id,
        date,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(platform_conversions) as platform_conversions,
        sum(n_rows) as n_rows,
        sum(n_rounded_rows) as n_rounded_rows

    from raw_unioned
    group by tenant_id, date

),

mart_totals as (

    select
        tenant_id,
        date,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(platform_conversions) as platform_conversions,
        count(*) as n_rows

    from {{ ref('fct_ad_performance_daily') }}
    group by tenant_id, date

),

compared as (

    select
        coalesce(raw_totals.tenant_id, mart_totals.tenant_id) as tenant_id,
        coalesce(raw_totals.date, mart_totals.date) as date,
        coalesce(raw_totals.spend, 0) as raw_spend,
        coalesce(mart_totals.spend, 0) as mart_spend,
        coalesce(raw_totals.impressions, 0) as raw_impressions,
        coalesce(mart_totals.impressions, 0) as mart_impressions,
        coalesce(raw_totals.clicks, 0) as raw_clicks,
        coalesce(mart_totals.clicks, 0) as mart_clicks,
        coalesce(raw_totals.platform_conversions, 0) as raw_platform_conversions,
        coalesce(mart_totals.platform_conversions, 0) as mart_platform_conversions,
        coalesce(raw_totals.n_rows, 0) as raw_rows,
        coalesce(mart_totals.n_rows, 0) as mart_rows,
        cast(0.005 as decimal(4, 3)) * coalesce(raw_totals.n_rounded_rows, 0) as spend_tolerance

    from raw_totals
    full outer join mart_totals
        on mart_totals.tenant_id = raw_totals.tenant_id
        and mart_totals.date = raw_totals.date

)

select *
from compared
where abs(mart_spend - raw_spend) > spend_tolerance
    or mart_impressions <> raw_impressions
    or mart_clicks <> raw_clicks
    or abs(mart_platform_conversions - raw_platform_conversions) > 0.000001
    or mart_rows <> raw_rows
