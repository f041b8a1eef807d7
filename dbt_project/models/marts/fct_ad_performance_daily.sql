with

ad_performance as (

    select * from {{ ref('int_ad_performance_unioned') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_daily') }}

),

final as (

    select
        ad_performance.tenant_id,
        ad_performance.date,
        ad_performance.platform,
        ad_performance.ad_id,
        ad_performance.account_id,
        ad_performance.campaign_id,
        ad_performance.campaign_name,
        ad_performance.ad_group_id,
        ad_performance.ad_group_name,
        ad_performance.ad_name,
        ad_performance.currency,
        cast(ad_performance.spend as {{ money_type() }}) as spend,
        cast(
            round(cast(ad_performance.spend as decimal(38, 2)) * fx_rates.rate_to_usd, 2)
            as {{ money_type() }}
        ) as spend_usd,
        cast(ad_performance.impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(ad_performance.clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(ad_performance.platform_conversions as double) as platform_conversions,
        cast(ad_performance.platform_conversion_value as {{ money_type() }}) as platform_conversion_value

    from ad_performance
    left join fx_rates
        on fx_rates.currency = ad_performance.currency
        and fx_rates.date = ad_performance.date

)

select * from final
