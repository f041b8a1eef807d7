{#
    Last-touch attribution of closed-won deals.

    A deal converts at its contact's customer timestamp, else at the deal's close timestamp (UTC).
    Its touch is the contact's (via anonymous_id) last *session* touchpoint at or before that time
    and no more than var('attribution_lookback_days') days earlier; the deal takes that touch's
    channel, or 'direct' when there is none. Ties on event_ts go to the larger event_id.

    Portable on purpose: an equi-join on (tenant_id, anonymous_id) bounded by the lookback window,
    then row_number(). The join is built on the won deals (tens of thousands) and probed by the
    sessions, so it stays cheap; a DuckDB ASOF join was measured 3-4x slower at demo scale
    (it sorts every session) and would need a dialect-specific macro.
#}
{%- set lookback_days = var('attribution_lookback_days') | int -%}

with

deals as (

    select * from {{ ref('stg_hubspot__deals') }}

),

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

touchpoints as (

    select * from {{ ref('int_touchpoints_channeled') }}

),

tenants as (

    select * from {{ ref('tenants') }}

),

won_deals as (

    select
        deals.tenant_id,
        deals.deal_id,
        deals.contact_id,
        contacts.anonymous_id,
        deals.amount as revenue,
        coalesce(contacts.became_customer_at, deals.closed_at) as converted_at,
        case
            when contacts.became_customer_at is not null then 'contact_customer_date'
            when deals.closed_at is not null then 'deal_closedate'
        end as converted_at_source

    from deals
    left join contacts
        on contacts.tenant_id = deals.tenant_id
        and contacts.contact_id = deals.contact_id
    where deals.deal_stage = 'closedwon'

),

sessions as (

    select
        tenant_id,
        anonymous_id,
        event_id,
        event_ts,
        channel

    from touchpoints
    where event_type = 'session'

),

ranked_touches as (

    select
        won_deals.tenant_id,
        won_deals.deal_id,
        sessions.event_id,
        sessions.event_ts,
        sessions.channel,
        row_number() over (
            partition by won_deals.tenant_id, won_deals.deal_id
            order by sessions.event_ts desc, sessions.event_id desc
        ) as touch_rank

    from won_deals
    inner join sessions
        on sessions.tenant_id = won_deals.tenant_id
        and sessions.anonymous_id = won_deals.anonymous_id
        and sessions.event_ts <= won_deals.converted_at
        and sessions.event_ts >= {{ dbt.dateadd('day', -lookback_days, 'won_deals.converted_at') }}

),

last_touches as (

    select * from ranked_touches
    where touch_rank = 1

),

attributed as (

    select
        won_deals.tenant_id,
        won_deals.deal_id,
        won_deals.contact_id,
        won_deals.anonymous_id,
        coalesce(last_touches.channel, 'direct') as channel,
        last_touches.event_id is not null as has_touch,
        last_touches.event_id as touch_event_id,
        won_deals.revenue,
        won_deals.converted_at_source,
        won_deals.converted_at,
        {{ utc_to_local('won_deals.converted_at', 'tenants.timezone') }} as converted_at_local,
        last_touches.event_ts as touch_event_ts

    from won_deals
    left join last_touches
        on last_touches.tenant_id = won_deals.tenant_id
        and last_touches.deal_id = won_deals.deal_id
    left join tenants
        on tenants.tenant_id = won_deals.tenant_id

),

final as (

    select
        *,
        cast(converted_at_local as date) as conversion_date

    from attributed

)

select * from final
