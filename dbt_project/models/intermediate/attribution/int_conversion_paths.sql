{#
    One row per converting journey (closed-won deal): its ordered channel path within the lookback
    window, as 'channel > channel > ...' (every session, repeats kept), with the deal's revenue.
#}
with

touches as (

    select * from {{ ref('int_journey_touches') }}
    where is_converting

),

conversions as (

    select * from {{ ref('int_conversions_attributed') }}

),

paths as (

    select
        tenant_id,
        deal_id,
        journey_id,
        {{ dbt.listagg('channel', "' > '", 'order by touch_position') }} as channel_path,
        count(*) as n_touches,
        count(distinct channel) as n_channels,
        count(event_id) as n_sessions,
        min(event_ts) as first_touch_at

    from touches
    group by tenant_id, deal_id, journey_id

),

final as (

    select
        paths.tenant_id,
        paths.deal_id,
        paths.journey_id,
        conversions.contact_id,
        conversions.anonymous_id,
        paths.channel_path,
        paths.n_touches,
        paths.n_channels,
        paths.n_sessions,
        paths.first_touch_at,
        conversions.converted_at,
        conversions.conversion_date,
        conversions.revenue

    from paths
    inner join conversions
        on conversions.tenant_id = paths.tenant_id
        and conversions.deal_id = paths.deal_id

)

select * from final
