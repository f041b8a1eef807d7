{#
    Coalition counts for Shapley attribution, per tenant and period: the set of distinct channels on
    a journey (sorted, comma-separated) -> journeys, conversions and revenue. Order and repeats do
    not matter here; non-converting journeys count in `journeys` so conversion rates can be formed.
#}
-- depends_on: {{ ref('channel_mapping') }}
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

{#- Channel flags per journey in one hash aggregation (no sort): the channels are the ones the
    channel_mapping seed can produce, plus `other` (no rule matched) and `direct`. #}
{%- set channels = ['direct', 'other'] -%}
{%- if execute -%}
    {%- set seeded = run_query('select distinct channel from ' ~ ref('channel_mapping')) -%}
    {%- for channel in seeded.columns[0].values() -%}
        {%- if channel not in channels -%}{%- do channels.append(channel) -%}{%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- set channels = channels | sort %}

journey_flags as (

    select
        tenant_id,
        journey_id,
        journey_date,
        is_converting,
        {% for channel in channels -%}
        max(case when channel = '{{ channel }}' then 1 else 0 end) as has_{{ loop.index }}{{ ',' if not loop.last }}
        {% endfor %}

    from touches
    group by tenant_id, journey_id, journey_date, is_converting

),

journey_sets as (

    select
        tenant_id,
        journey_id,
        journey_date,
        is_converting,
        {% for channel in channels -%}
        has_{{ loop.index }}{{ ' + ' if not loop.last }}
        {%- endfor %} as n_channels,
        {#- sorted channel names, each followed by ',', then the last ',' dropped #}
        {%- set parts = [] -%}
        {%- for channel in channels -%}
            {%- do parts.append("case when has_" ~ loop.index ~ " = 1 then '" ~ channel ~ ",' else '' end") -%}
        {%- endfor %}
        {{ dbt.concat(parts) if parts | length > 1 else parts[0] }} as channel_list

    from journey_flags

),

daily_counts as (

    select
        journey_sets.tenant_id,
        journey_sets.journey_date,
        substr(journey_sets.channel_list, 1, {{ dbt.length('journey_sets.channel_list') }} - 1) as channel_set,
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
        journey_sets.channel_list,
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
