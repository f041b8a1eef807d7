{#
    Paid delivery per channel-day (paid platforms are channels of their own: meta, google_ads)
    full-outer-joined with warehouse-attributed (last-touch) conversions per channel-day.
    Delivery days are the ad accounts' reporting days; conversion days are tenant-local dates.
    Amounts are in the tenant currency (tests/assert_ad_currency_is_tenant_currency.sql
    guarantees the ad accounts report in it); spend is 0 for channels without paid delivery.
#}
with

ad_performance as (

    select * from {{ ref('fct_ad_performance_daily') }}

),

conversions as (

    select * from {{ ref('int_conversions_attributed') }}

),

tenants as (

    select * from {{ ref('dim_tenants') }}

),

paid_channel_days as (

    select
        tenant_id,
        date,
        platform as channel,
        sum(spend) as spend,
        -- a day with any ad lacking an FX rate has no USD total rather than a partial one
        case when count(spend_usd) = count(*) then sum(spend_usd) end as spend_usd,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(platform_conversions) as platform_conversions,
        sum(platform_conversion_value) as platform_conversion_value

    from ad_performance
    group by tenant_id, date, platform

),

attributed_channel_days as (

    select
        tenant_id,
        conversion_date as date,
        channel,
        count(*) as attributed_conversions,
        sum(revenue) as attributed_revenue

    from conversions
    group by tenant_id, conversion_date, channel

),

joined as (

    select
        coalesce(paid_channel_days.tenant_id, attributed_channel_days.tenant_id) as tenant_id,
        coalesce(paid_channel_days.date, attributed_channel_days.date) as date,
        coalesce(paid_channel_days.channel, attributed_channel_days.channel) as channel,
        coalesce(paid_channel_days.spend, 0) as spend,
        case
            when paid_channel_days.channel is null then 0
            else paid_channel_days.spend_usd
        end as spend_usd,
        coalesce(paid_channel_days.impressions, 0) as impressions,
        coalesce(paid_channel_days.clicks, 0) as clicks,
        coalesce(paid_channel_days.platform_conversions, 0) as platform_conversions,
        coalesce(paid_channel_days.platform_conversion_value, 0) as platform_conversion_value,
        coalesce(attributed_channel_days.attributed_conversions, 0) as attributed_conversions,
        coalesce(attributed_channel_days.attributed_revenue, 0) as attributed_revenue

    from paid_channel_days
    full outer join attributed_channel_days
        on attributed_channel_days.tenant_id = paid_channel_days.tenant_id
        and attributed_channel_days.date = paid_channel_days.date
        and attributed_channel_days.channel = paid_channel_days.channel

),

final as (

    select
        joined.tenant_id,
        joined.date,
        joined.channel,
        tenants.currency,
        cast(joined.spend as {{ money_type() }}) as spend,
        cast(joined.spend_usd as {{ money_type() }}) as spend_usd,
        cast(joined.impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(joined.clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(joined.platform_conversions as double) as platform_conversions,
        cast(joined.platform_conversion_value as {{ money_type() }}) as platform_conversion_value,
        cast(joined.attributed_conversions as {{ dbt.type_bigint() }}) as attributed_conversions,
        cast(joined.attributed_revenue as {{ money_type() }}) as attributed_revenue,
        case
            when joined.spend = 0 then null
            else cast(joined.attributed_revenue as double) / cast(joined.spend as double)
        end as roas,
        case
            when joined.spend = 0 then null
            else cast(joined.platform_conversion_value as double) / cast(joined.spend as double)
        end as platform_roas

    from joined
    left join tenants
        on tenants.tenant_id = joined.tenant_id

)

select * from final
