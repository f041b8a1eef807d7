{#
    One row per non-converting journey: a visitor's sessions outside every conversion window, in
    windows of var('attribution_lookback_days') days (see int_journey_touches), as an ordered
    channel path. A view: nothing downstream reads it, and building ~1e6 string paths costs seconds.
#}
{{ config(materialized='view') }}
with

touches as (

    select * from {{ ref('int_journey_touches') }}
    where not is_converting

),

final as (

    select
        tenant_id,
        journey_id,
        anonymous_id,
        {{ dbt.listagg('channel', "' > '", 'order by touch_position') }} as channel_path,
        count(*) as n_touches,
        count(distinct channel) as n_channels,
        min(event_ts) as first_touch_at,
        max(event_ts) as last_touch_at,
        max(journey_date) as journey_date

    from touches
    group by tenant_id, journey_id, anonymous_id

)

select * from final
