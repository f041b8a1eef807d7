{#
    Markov chain transition counts per tenant and period, for orders 1..var('attribution_markov_max_order').

    Each journey's channel path has consecutive repeats collapsed (meta > meta > google_ads becomes
    meta > google_ads: a repeat is a self-loop, which never changes where a chain is absorbed, and
    in higher orders it would only split states). A state of order k is the last k channels of the
    collapsed path, joined by '>' (fewer at the start of a path). Every journey walks
    (start) -> its states -> (conversion) or (null), and each step is counted once.

    One window pass: a step's state and the state before it both come from lags of the channel;
    steps are counted per period and recent history before any state text is built. The Python
    side only ever sees these counts (DESIGN.md §7).
#}
{%- set max_order = var('attribution_markov_max_order') | int -%}
{#- The hash leads the partition key: partitions are told apart by one integer compare; the
    string keys after it keep two journeys with colliding hashes apart (exact). #}
{%- set step_order = 'over (partition by hash(tenant_id, journey_id), tenant_id, journey_id order by touch_position)' -%}

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

{#- Steps with the same day and recent history are counted before the periods are joined and
    before any state text is built: the join then sees one row per day and history, not per step,
    and the strings are made for a few thousand histories, not for every step of every order. #}
daily_histories as (

    select
        tenant_id,
        journey_date,
        is_converting,
        is_last_step,
        channel,
        {% for back in range(1, max_order + 1) -%}
        channel_lag_{{ back }},
        {% endfor -%}
        count(*) as steps

    from steps
    group by
        tenant_id,
        journey_date,
        is_converting,
        is_last_step,
        channel
        {%- for back in range(1, max_order + 1) -%},
        channel_lag_{{ back }}
        {%- endfor %}

),

histories as (

    select
        daily_histories.tenant_id,
        periods.period,
        periods.period_start,
        periods.period_end,
        daily_histories.is_converting,
        daily_histories.is_last_step,
        daily_histories.channel,
        {% for back in range(1, max_order + 1) -%}
        daily_histories.channel_lag_{{ back }},
        {% endfor -%}
        sum(daily_histories.steps) as steps

    from daily_histories
    inner join periods
        on periods.tenant_id = daily_histories.tenant_id
        and daily_histories.journey_date >= periods.period_start
        and daily_histories.journey_date <= periods.period_end
    group by
        daily_histories.tenant_id,
        periods.period,
        periods.period_start,
        periods.period_end,
        daily_histories.is_converting,
        daily_histories.is_last_step,
        daily_histories.channel
        {%- for back in range(1, max_order + 1) -%},
        daily_histories.channel_lag_{{ back }}
        {%- endfor %}

),

transitions as (

    {% for order in range(1, max_order + 1) -%}
    select
        tenant_id,
        period,
        period_start,
        period_end,
        {{ order }} as markov_order,
        case
            when channel_lag_1 is null then '(start)'
            else {{ markov_state_from_lags(order, 1) }}
        end as from_state,
        {{ markov_state_from_lags(order - 1, 0) }} as to_state,
        steps

    from histories

    union all

    select
        tenant_id,
        period,
        period_start,
        period_end,
        {{ order }} as markov_order,
        {{ markov_state_from_lags(order - 1, 0) }} as from_state,
        case when is_converting then '(conversion)' else '(null)' end as to_state,
        steps

    from histories
    where is_last_step

    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        tenant_id,
        period,
        period_start,
        period_end,
        markov_order,
        from_state,
        to_state,
        cast(sum(steps) as {{ dbt.type_bigint() }}) as transitions

    from transitions
    group by tenant_id, period, period_start, period_end, markov_order, from_state, to_state

)

select * from final
