with

source as (

    select * from {{ source('raw', 'tiktok_ads_ad_stats') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'tiktok' as platform,
        cast(advertiser_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(adgroup_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(ad_id as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        campaign_name,
        adgroup_name as ad_group_name,
        ad_name,
        upper(currency) as currency,

        ----------  measures (TikTok sends every metric as a string; spend in the advertiser currency)
        {{ to_currency_units('spend', 'major') }} as spend,
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(conversion as double) as platform_conversions,
        {{ to_currency_units('total_purchase_value', 'major') }} as platform_conversion_value,

        ----------  dates and timestamps
        cast(stat_time_day as date) as date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
