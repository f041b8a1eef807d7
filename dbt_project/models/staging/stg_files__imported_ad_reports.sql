{#
    Ad delivery exported from a platform's UI and read through a declared mapping (config/imports).
    Shared names as the API-loaded platforms. A row repeated by a later export (overlapping report
    ranges, restated numbers) is taken from the latest drop. A campaign-level report has no ad: its
    campaign stands in as the ad (ad_id = ad group id, else campaign id), so the grain holds.
#}
with

source as (

    select * from {{ source('raw', 'imported_ad_reports') }}

),

latest_drop as (

    select
        *,
        row_number() over (
            partition by tenant_id, platform, account_id, date, campaign_id, ad_group_id, ad_id
            order by _partition desc, _loaded_at desc
        ) as drop_rank

    from source

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        lower(platform) as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(ad_group_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(coalesce(ad_id, ad_group_id, campaign_id) as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        campaign_name,
        ad_group_name,
        ad_name,
        upper(currency) as currency,
        mapping,

        ----------  measures
        {{ to_currency_units('spend', 'major') }} as spend,
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(conversions as double) as platform_conversions,
        {{ to_currency_units('conversion_value', 'major') }} as platform_conversion_value,

        ----------  dates and timestamps
        cast(date as date) as date,
        cast(_partition as date) as dropped_on

    from latest_drop
    where drop_rank = 1

)

select * from renamed
