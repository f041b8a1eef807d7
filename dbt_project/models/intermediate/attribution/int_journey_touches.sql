{#
    Customer journeys, one row per touch: the material of every attribution model.

    Converting journey: one per closed-won deal (int_conversions_attributed, so every model agrees
    on what a conversion is). Its touches are the contact's sessions (via anonymous_id) at or before
    the conversion and at most var('attribution_lookback_days') days earlier, the window the
    last-touch mart uses. A conversion with no session in its window gets one synthetic `direct`
    touch at the conversion time (event_id null), as last touch does.

    Non-converting journey: the sessions that lie in no conversion window, per anonymous_id, cut
    into windows of the same length counted from the visitor's first such session (bucket = whole
    lookback periods since then). A visitor who converts later still contributes the sessions
    outside its conversion window here. Journeys that end near the data's last day may still
    convert after it (right-censoring); the recent period is affected most.

    Touch order: event_ts, then event_id (the tie-break last touch uses). Dates are tenant-local:
    a converting journey's date is its conversion date, a non-converting one's the date of its
    last session.
#}
{%- set lookback_days = var('attribution_lookback_days') | int -%}
{%- set journey_order = 'over (partition by tenant_id, journey_id order by event_ts, event_id)' -%}

with

conversions as (

    select * from {{ ref('int_conversions_attributed') }}

),

touchpoints as (

    select * from {{ ref('int_touchpoints_channeled') }}

),

sessions as (

    select
        tenant_id,
        anonymous_id,
        event_id,
        event_ts,
        event_date_local,
        channel

    from touchpoints
    where event_type = 'session'
        and anonymous_id is not null

),

conversion_windows as (

    select
        tenant_id,
        deal_id,
        anonymous_id,
        converted_at,
        conversion_date,
        {{ dbt.dateadd('day', -lookback_days, 'converted_at') }} as window_start

    from conversions

),

converting_touches as (

    select
        conversion_windows.tenant_id,
        {{ dbt.concat(["'deal:'", 'conversion_windows.deal_id']) }} as journey_id,
        true as is_converting,
        conversion_windows.deal_id,
        conversion_windows.anonymous_id,
        sessions.event_id,
        coalesce(sessions.event_ts, conversion_windows.converted_at) as event_ts,
        coalesce(sessions.channel, 'direct') as channel,
        conversion_windows.conversion_date as journey_date

    from conversion_windows
    left join sessions
        on sessions.tenant_id = conversion_windows.tenant_id
        and sessions.anonymous_id = conversion_windows.anonymous_id
        and sessions.event_ts <= conversion_windows.converted_at
        and sessions.event_ts >= conversion_windows.window_start

),

sessions_outside_conversions as (

    select
        sessions.tenant_id,
        sessions.anonymous_id,
        sessions.event_id,
        sessions.event_ts,
        sessions.event_date_local,
        sessions.channel

    from sessions
    left join conversion_windows
        on conversion_windows.tenant_id = sessions.tenant_id
        and conversion_windows.anonymous_id = sessions.anonymous_id
        and sessions.event_ts <= conversion_windows.converted_at
        and sessions.event_ts >= conversion_windows.window_start
    where conversion_windows.deal_id is null

),

visitor_first_sessions as (

    select
        *,
        min(event_ts) over (partition by tenant_id, anonymous_id) as first_session_ts

    from sessions_outside_conversions

),

bucketed_sessions as (

    select
        *,
        floor(
            {{ dbt.datediff('first_session_ts', 'event_ts', 'day') }} / {{ lookback_days }}.0
        ) as window_number

    from visitor_first_sessions

),

nonconverting_touches as (

    select
        tenant_id,
        {{ dbt.concat([
            "'visitor:'", 'anonymous_id', "':'",
            'cast(cast(window_number as ' ~ dbt.type_int() ~ ') as ' ~ dbt.type_string() ~ ')',
        ]) }} as journey_id,
        false as is_converting,
        cast(null as {{ dbt.type_string() }}) as deal_id,
        anonymous_id,
        event_id,
        event_ts,
        channel,
        max(event_date_local) over (partition by tenant_id, anonymous_id, window_number) as journey_date

    from bucketed_sessions

),

unioned as (

    select * from converting_touches
    union all
    select * from nonconverting_touches

),

final as (

    select
        tenant_id,
        journey_id,
        row_number() {{ journey_order }} as touch_position,
        -- same channel as the touch before: Markov paths collapse such repeats
        coalesce(lag(channel) {{ journey_order }} = channel, false) as is_channel_repeat,
        is_converting,
        deal_id,
        anonymous_id,
        event_id,
        event_ts,
        channel,
        journey_date

    from unioned

)

select * from final
