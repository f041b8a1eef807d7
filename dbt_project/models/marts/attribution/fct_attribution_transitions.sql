{#
    Markov chain transition counts per tenant and period, for orders 1..var('attribution_markov_max_order').

    Each journey's channel path has consecutive repeats collapsed (meta > meta > google_ads becomes
    meta > google_ads: a repeat is a self-loop, which never changes where a chain is absorbed, and
    in higher orders it would only split states). A state of order k is the last k channels of the
    collapsed path, joined by '>' (fewer at the start of a path). Every journey walks
    (start) -> its states -> (conversion) or (null), and each step is counted once.

    One window pass: a step's state and the state before it both come from lags of the channel.
    Counted per journey date first (a small table), then summed into the periods: the Python side
    only ever sees these counts (DESIGN.md §7).
#}
{%- set max_order = var('attribution_markov_max_order') | int -%}
{%- set step_order = 'over (partition by tenant_id, journey_id order by touch_position)' -%}

with

touches as (

    select * from {{ ref('int_journey_touches') }}

),

periods as (

    select * from {{ ref('int_attribution_periods') }}

),

steps as (

    select
        tenant_id,
        journey_date,
        is_converting,
        channel,
        {% for back in range(1, max_order + 1) -%}
        lag(channel, {{ back }}) {{ step_order }} as channel_lag_{{ back }},
        {% endfor -%}
        lead(channel) {{ step_order }} is null as is_last_step

    from touches
    where not is_channel_repeat

),

transitions as (

    {% for order in range(1, max_order + 1) -%}
    select
        tenant_id,
        journey_date,
        {{ order }} as markov_order,
        case
            when channel_lag_1 is null then '(start)'
            else {{ markov_state_from_lags(order, 1) }}
        end as from_state,
        {{ markov_state_from_lags(order - 1, 0) }} as to_state

    from steps

    union all

    select
        tenant_id,
        journey_date,
        {{ order }} as markov_order,
        {{ markov_state_from_lags(order - 1, 0) }} as from_state,
        case when is_converting then '(conversion)' else '(null)' end as to_state

    from steps
    where is_last_step

    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

daily_counts as (

    select
        tenant_id,
        journey_date,
        markov_order,
        from_state,
        to_state,
        count(*) as transitions

    from transitions
    group by tenant_id, journey_date, markov_order, from_state, to_state

),

final as (

    select
        daily_counts.tenant_id,
        periods.period,
        periods.period_start,
        periods.period_end,
        daily_counts.markov_order,
        daily_counts.from_state,
        daily_counts.to_state,
        cast(sum(daily_counts.transitions) as {{ dbt.type_bigint() }}) as transitions

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
        daily_counts.markov_order,
        daily_counts.from_state,
        daily_counts.to_state

)

select * from final
