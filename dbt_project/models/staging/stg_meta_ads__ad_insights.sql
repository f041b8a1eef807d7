with

source as (

    select * from {{ source('raw', 'meta_ads_insights') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'meta' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(adset_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(ad_id as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        campaign_name,
        adset_name as ad_group_name,
        ad_name,
        upper(account_currency) as currency,
        actions as actions_json,

        ----------  measures
        {{ to_currency_units('spend', 'major') }} as spend,
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(conversions as double) as platform_conversions,
        {{ to_currency_units('conversion_value', 'major') }} as platform_conversion_value,

        ----------  dates and timestamps
        cast(date_start as date) as date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
