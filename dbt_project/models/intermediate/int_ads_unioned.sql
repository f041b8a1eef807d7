with

meta_ads as (

    select * from {{ ref('stg_meta_ads__ads') }}

),

google_ads as (

    select * from {{ ref('stg_google_ads__ads') }}

),

linkedin_creatives as (

    select * from {{ ref('stg_linkedin_ads__creatives') }}

),

linkedin_campaigns as (

    select * from {{ ref('stg_linkedin_ads__campaigns') }}

),

tiktok_ads as (

    select * from {{ ref('stg_tiktok_ads__ads') }}

),

unioned as (

    select
        tenant_id,
        platform,
        ad_id,
        account_id,
        campaign_id,
        ad_group_id,
        ad_name,
        status,
        created_at

    from meta_ads

    union all

    select
        tenant_id,
        platform,
        ad_id,
        account_id,
        campaign_id,
        ad_group_id,
        ad_name,
        status,
        cast(null as {{ dbt.type_timestamp() }}) as created_at

    from google_ads

    union all

    -- a LinkedIn creative names its campaign (the ad group); the campaign names its group
    select
        linkedin_creatives.tenant_id,
        linkedin_creatives.platform,
        linkedin_creatives.ad_id,
        linkedin_creatives.account_id,
        linkedin_campaigns.campaign_id,
        linkedin_creatives.ad_group_id,
        linkedin_creatives.ad_name,
        linkedin_creatives.status,
        linkedin_creatives.created_at

    from linkedin_creatives
    left join linkedin_campaigns
        on linkedin_campaigns.tenant_id = linkedin_creatives.tenant_id
        and linkedin_campaigns.ad_group_id = linkedin_creatives.ad_group_id

    union all

    select
        tenant_id,
        platform,
        ad_id,
        account_id,
        campaign_id,
        ad_group_id,
        ad_name,
        status,
        created_at

    from tiktok_ads

)

select * from unioned
