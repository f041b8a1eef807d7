{#
    Meta, Google, LinkedIn and TikTok delivery at one grain and with one set of names, in account
    currency. Google stats carry no ad name: it comes from the ad entity list. LinkedIn analytics
    name only the creative: campaign group, campaign and creative names come from the entity lists.

    Imported ad reports (exports read through config/imports mappings) join with the platform their
    mapping declares, but never count what an API already loaded. An imported row is dropped when,
    for the same tenant and day, the API-loaded delivery
      1. has rows of the same platform (an export of a platform we also read by API), or
      2. has a row with the same campaign_id (an export of an API-loaded account declared under
         another name; platform ids do not collide, so the same id is the same campaign).
    So a tenant can move from exports to API access on any day without a gap or a double count.
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

imported_reports as (

    select * from {{ ref('stg_files__imported_ad_reports') }}

),

linkedin_stats as (

    select * from {{ ref('stg_linkedin_ads__creative_stats') }}

),

linkedin_campaign_groups as (

    select * from {{ ref('stg_linkedin_ads__campaign_groups') }}

),

linkedin_campaigns as (

    select * from {{ ref('stg_linkedin_ads__campaigns') }}

),

linkedin_creatives as (

    select * from {{ ref('stg_linkedin_ads__creatives') }}

),

tiktok_stats as (

    select * from {{ ref('stg_tiktok_ads__ad_stats') }}

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

linkedin_performance as (

    select
        linkedin_stats.tenant_id,
        linkedin_stats.date,
        linkedin_stats.platform,
        linkedin_stats.account_id,
        linkedin_stats.campaign_id,
        linkedin_campaign_groups.campaign_name,
        linkedin_stats.ad_group_id,
        linkedin_campaigns.ad_group_name,
        linkedin_stats.ad_id,
        linkedin_creatives.ad_name,
        linkedin_stats.currency,
        linkedin_stats.spend,
        linkedin_stats.impressions,
        linkedin_stats.clicks,
        linkedin_stats.platform_conversions,
        linkedin_stats.platform_conversion_value

    from linkedin_stats
    left join linkedin_campaign_groups
        on linkedin_campaign_groups.tenant_id = linkedin_stats.tenant_id
        and linkedin_campaign_groups.campaign_id = linkedin_stats.campaign_id
    left join linkedin_campaigns
        on linkedin_campaigns.tenant_id = linkedin_stats.tenant_id
        and linkedin_campaigns.ad_group_id = linkedin_stats.ad_group_id
    left join linkedin_creatives
        on linkedin_creatives.tenant_id = linkedin_stats.tenant_id
        and linkedin_creatives.ad_id = linkedin_stats.ad_id

),

tiktok_performance as (

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

    from tiktok_stats

),

api_performance as (

    select * from meta_performance
    union all
    select * from google_performance
    union all
    select * from linkedin_performance
    union all
    select * from tiktok_performance

),

api_platform_days as (

    select distinct tenant_id, platform, date from api_performance

),

api_campaign_days as (

    select distinct tenant_id, campaign_id, date from api_performance

),

imported_performance as (

    select
        imported_reports.tenant_id,
        imported_reports.date,
        imported_reports.platform,
        imported_reports.account_id,
        imported_reports.campaign_id,
        imported_reports.campaign_name,
        imported_reports.ad_group_id,
        imported_reports.ad_group_name,
        imported_reports.ad_id,
        imported_reports.ad_name,
        imported_reports.currency,
        imported_reports.spend,
        imported_reports.impressions,
        imported_reports.clicks,
        imported_reports.platform_conversions,
        imported_reports.platform_conversion_value

    from imported_reports
    left join api_platform_days
        on api_platform_days.tenant_id = imported_reports.tenant_id
        and api_platform_days.platform = imported_reports.platform
        and api_platform_days.date = imported_reports.date
    left join api_campaign_days
        on api_campaign_days.tenant_id = imported_reports.tenant_id
        and api_campaign_days.campaign_id = imported_reports.campaign_id
        and api_campaign_days.date = imported_reports.date
    where api_platform_days.platform is null
        and api_campaign_days.campaign_id is null

),

unioned as (

    select * from api_performance
    union all
    select * from imported_performance

)

select * from unioned
