{#
    Meta and Google delivery at one grain and with one set of names, in account currency.
    Google stats carry no ad name: it comes from the ad entity list.
#}
with

meta_insights as (

    select * from {{ ref('stg_meta_ads__ad_insights') }}

),

google_stats as (

    select * from {{ ref('stg_google_ads__ad_stats') }}

),

google_ads as (

    select * from {{ ref('stg_google_ads__ads') }}

),

meta_performance as (

    select
        tenant_id,
        date,
        platform,
        account_id,
        campaign_id,
        campaign_name,
        ad_group_id,
        ad_group_name,
        ad_id,
        ad_name,
        currency,
        spend,
        impressions,
        clicks,
        platform_conversions,
        platform_conversion_value

    from meta_insights

),

google_performance as (

    select
        google_stats.tenant_id,
        google_stats.date,
        google_stats.platform,
        google_stats.account_id,
        google_stats.campaign_id,
        google_stats.campaign_name,
        google_stats.ad_group_id,
        google_stats.ad_group_name,
        google_stats.ad_id,
        google_ads.ad_name,
        google_stats.currency,
        google_stats.spend,
        google_stats.impressions,
        google_stats.clicks,
        google_stats.platform_conversions,
        google_stats.platform_conversion_value

    from google_stats
    left join google_ads
        on google_ads.tenant_id = google_stats.tenant_id
        and google_ads.account_id = google_stats.account_id
        and google_ads.ad_group_id = google_stats.ad_group_id
        and google_ads.ad_id = google_stats.ad_id

),

unioned as (

    select * from meta_performance
    union all
    select * from google_performance

)

select * from unioned
