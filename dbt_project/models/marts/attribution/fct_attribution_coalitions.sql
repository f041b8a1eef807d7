{#
    Coalition counts for Shapley attribution, per tenant and period: the set of distinct channels on
    a journey (sorted, comma-separated) -> journeys, conversions and revenue. Order and repeats do
    not matter here; non-converting journeys count in `journeys` so conversion rates can be formed.
#}
with

touches as (

    select * from {{ ref('int_journey_touches') }}

),

conversion_paths as (

    select * from {{ ref('int_conversion_paths') }}

),

periods as (

    select * from {{ ref('int_attribution_periods') }}

),

journey_channels as (

    select distinct
        tenant_id,
        journey_id,
        journey_date,
        is_converting,
        channel

    from touches

),

journey_sets as (

    select
        tenant_id,
        journey_id,
        journey_date,
        is_converting,
        {{ dbt.listagg('channel', "','", 'order by channel') }} as channel_set,
        count(*) as n_channels

    from journey_channels
    group by tenant_id, journey_id, journey_date, is_converting

),

daily_counts as (

    select
        journey_sets.tenant_id,
        journey_sets.journey_date,
        journey_sets.channel_set,
        journey_sets.n_channels,
        count(*) as journeys,
        sum(case when journey_sets.is_converting then 1 else 0 end) as conversions,
        sum(coalesce(conversion_paths.revenue, 0)) as revenue

    from journey_sets
    left join conversion_paths
        on conversion_paths.tenant_id = journey_sets.tenant_id
        and conversion_paths.journey_id = journey_sets.journey_id
    group by
        journey_sets.tenant_id,
        journey_sets.journey_date,
        journey_sets.channel_set,
        journey_sets.n_channels

),

final as (

    select
        daily_counts.tenant_id,
        periods.period,
        periods.period_start,
        periods.period_end,
        daily_counts.channel_set,
        cast(daily_counts.n_channels as {{ dbt.type_bigint() }}) as n_channels,
        cast(sum(daily_counts.journeys) as {{ dbt.type_bigint() }}) as journeys,
        cast(sum(daily_counts.conversions) as {{ dbt.type_bigint() }}) as conversions,
        cast(sum(daily_counts.revenue) as decimal(18, 2)) as revenue

    from daily_counts
    inner join periods
        on periods.tenant_id = daily_counts.tenant_id
        and daily_counts.journey_date >= periods.period_start
        and daily_counts.journey_date <= periods.period_end
    group by
        daily_counts.tenant_id,
        periods.period,
        periods.period_start,
        periods.period_end,
        daily_counts.channel_set,
        daily_counts.n_channels

)

select * from final
