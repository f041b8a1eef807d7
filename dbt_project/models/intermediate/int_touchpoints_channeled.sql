{#
    Touchpoints with their marketing channel (UTM rules from the channel_mapping seed) and their
    time in the tenant's time zone (from the tenants seed).
#}
with

touchpoints as (

    select * from {{ ref('stg_web__touchpoints') }}

),

tenants as (

    select * from {{ ref('tenants') }}

),

channels as (

    {{ channel_from_utm('utm_source', 'utm_medium', 'touchpoints', ['tenant_id', 'event_id']) }}

),

joined as (

    select
        touchpoints.tenant_id,
        touchpoints.event_id,
        touchpoints.anonymous_id,
        touchpoints.event_type,
        touchpoints.utm_source,
        touchpoints.utm_medium,
        touchpoints.utm_campaign,
        touchpoints.landing_page,
        channels.channel,
        touchpoints.event_ts,
        {{ utc_to_local('touchpoints.event_ts', 'tenants.timezone') }} as event_ts_local

    from touchpoints
    inner join channels
        on channels.tenant_id = touchpoints.tenant_id
        and channels.event_id = touchpoints.event_id
    left join tenants
        on tenants.tenant_id = touchpoints.tenant_id

),

final as (

    select
        *,
        cast(event_ts_local as date) as event_date_local

    from joined

)

select * from final
