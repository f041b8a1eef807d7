{#
    LinkedIn creative-day analytics under the shared names: the world's campaign is a LinkedIn
    campaign group, its ad group a LinkedIn campaign, its ad a creative (INTERFACES.md §7.1).
#}
with

source as (

    select * from {{ source('raw', 'linkedin_ads_creative_stats') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'linkedin' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_group_id as {{ dbt.type_string() }}) as campaign_id,
        cast(campaign_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(creative_id as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        upper(currency) as currency,

        ----------  measures (LinkedIn sends cost as a decimal string in the account currency)
        {{ to_currency_units('cost_in_local_currency', 'major') }} as spend,
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(external_website_conversions as double) as platform_conversions,
        {{ to_currency_units('conversion_value_in_local_currency', 'major') }} as platform_conversion_value,

        ----------  dates and timestamps
        cast(date as date) as date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
