{#
    The periods data-driven attribution is computed over, per tenant: the full window of journeys
    and the last var('attribution_recent_period_days') days up to the tenant's last journey date.
    A journey belongs to a period when its journey_date lies inside it.
#}
{%- set recent_days = var('attribution_recent_period_days') | int -%}

with

touches as (

    select * from {{ ref('int_journey_touches') }}

),

bounds as (

    select
        tenant_id,
        min(journey_date) as first_date,
        max(journey_date) as last_date

    from touches
    group by tenant_id

),

full_window as (

    select
        tenant_id,
        'full_window' as period,
        first_date as period_start,
        last_date as period_end

    from bounds

),

recent as (

    select
        tenant_id,
        'last_{{ recent_days }}_days' as period,
        case
            when {{ dbt.datediff('first_date', 'last_date', 'day') }} < {{ recent_days }} then first_date
            else cast({{ dbt.dateadd('day', -(recent_days - 1), 'last_date') }} as date)
        end as period_start,
        last_date as period_end

    from bounds

),

final as (

    select * from full_window
    union all
    select * from recent

)

select * from final
