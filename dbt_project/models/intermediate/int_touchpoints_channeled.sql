{#
    Touchpoints with their marketing channel (UTM rules from the channel_mapping seed) and their
    time in the tenant's time zone (from the tenants seed).

    One pass over the touchpoints: the rules are matched on the few distinct (source, medium) pairs
    (utm_channel_lookup) and joined back on the pair, not on the event key.

    Incremental (macros/run_window.sql): a daily run deletes and inserts the UTC days of its window,
    and drops rows whose event is gone from the source on any day (an erasure request); every row
    depends on its own touchpoint and the seeds only, so this equals a rebuild.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_run_window('cast(event_ts as date)', gone_from=ref('stg_web__touchpoints'), key=['tenant_id', 'event_id']) }}",
    )
}}
with

touchpoints as (

    select * from {{ ref('stg_web__touchpoints') }}
    where {{ in_run_window('cast(event_ts as date)') }}

),

tenants as (

    select * from {{ ref('tenants') }}

),

utm_channels as (

    {{ utm_channel_lookup('utm_source', 'utm_medium', 'touchpoints') }}

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
        utm_channels.channel,
        touchpoints.event_ts,
        {{ utc_to_local('touchpoints.event_ts', 'tenants.timezone') }} as event_ts_local

    from touchpoints
    left join utm_channels
        on utm_channels.utm_source_key = {{ utm_source_key('touchpoints.utm_source') }}
        and utm_channels.utm_medium_key = {{ utm_medium_key('touchpoints.utm_medium') }}
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
