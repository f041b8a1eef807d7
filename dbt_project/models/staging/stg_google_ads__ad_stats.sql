with

source as (

    select * from {{ source('raw', 'google_ads_ad_stats') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'google_ads' as platform,
        cast(customer_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(ad_group_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(ad_id as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        campaign_name,
        ad_group_name,
        upper(currency_code) as currency,

        ----------  measures (Google sends money in micros)
        {{ to_currency_units('cost_micros', 'micros') }} as spend,
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(conversions as double) as platform_conversions,
        {{ to_currency_units('conversions_value', 'major') }} as platform_conversion_value,

        ----------  dates and timestamps
        cast(date as date) as date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
