with

meta_ads as (

    select * from {{ ref('stg_meta_ads__ads') }}

),

google_ads as (

    select * from {{ ref('stg_google_ads__ads') }}

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

)

select * from unioned
