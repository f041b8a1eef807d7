{#
    Rule-based multi-touch attribution of closed-won deals: each conversion's credit (1 in total)
    split over the touches of its journey (int_journey_touches: sessions in the lookback window;
    a touchless conversion has one `direct` touch), summed per tenant, conversion date (tenant
    local), channel and model:

      first_touch      all credit to the first touch
      last_touch       all credit to the last touch (the same channel as int_conversions_attributed)
      last_non_direct  all credit to the last touch whose channel is not `direct`; to the last touch
                       when every touch is direct
      linear           1/n to each of the n touches
      time_decay       weight 0.5 ^ (time before conversion / var('attribution_time_decay_half_life_days')),
                       normalised over the journey
      position_based   var('attribution_position_based_end_share') (0.4) each to the first and last
                       touch, the rest evenly over the middle touches; 1/2 each with two touches

    Revenue is the deal amount times the same credit (tenant currency, rounded to cents per row).
#}
{%- set half_life_days = var('attribution_time_decay_half_life_days') -%}
{%- set end_share = var('attribution_position_based_end_share') -%}
{%- set models = ['first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay', 'position_based'] -%}

with

touches as (

    select * from {{ ref('int_journey_touches') }}
    where is_converting

),

conversion_paths as (

    select * from {{ ref('int_conversion_paths') }}

),

tenants as (

    select * from {{ ref('tenants') }}

),

touch_facts as (

    select
        touches.tenant_id,
        touches.journey_id,
        touches.touch_position,
        count(*) over (partition by touches.tenant_id, touches.journey_id) as n_touches,
        touches.channel,
        conversion_paths.conversion_date,
        conversion_paths.revenue,
        max(case when touches.channel <> 'direct' then touches.touch_position end) over (
            partition by touches.tenant_id, touches.journey_id
        ) as last_non_direct_position,
        power(
            cast(0.5 as double),
            {{ dbt.datediff('touches.event_ts', 'conversion_paths.converted_at', 'second') }}
                / ({{ half_life_days }} * 86400.0)
        ) as decay_weight

    from touches
    inner join conversion_paths
        on conversion_paths.tenant_id = touches.tenant_id
        and conversion_paths.journey_id = touches.journey_id

),

credits as (

    select
        tenant_id,
        conversion_date,
        channel,
        revenue,
        case when touch_position = 1 then 1.0 else 0.0 end as credit_first_touch,
        case when touch_position = n_touches then 1.0 else 0.0 end as credit_last_touch,
        case
            when touch_position = coalesce(last_non_direct_position, n_touches) then 1.0
            else 0.0
        end as credit_last_non_direct,
        1.0 / n_touches as credit_linear,
        decay_weight / sum(decay_weight) over (partition by tenant_id, journey_id) as credit_time_decay,
        case
            when n_touches = 1 then 1.0
            when n_touches = 2 then 0.5
            when touch_position = 1 or touch_position = n_touches then {{ end_share }}
            else (1.0 - 2 * {{ end_share }}) / (n_touches - 2)
        end as credit_position_based

    from touch_facts

),

unpivoted as (

    {% for model in models -%}
    select
        tenant_id,
        conversion_date,
        channel,
        '{{ model }}' as model,
        credit_{{ model }} as credit,
        credit_{{ model }} * revenue as revenue

    from credits
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        unpivoted.tenant_id,
        unpivoted.conversion_date as date,
        unpivoted.channel,
        unpivoted.model,
        tenants.currency,
        cast(sum(unpivoted.credit) as double) as conversions,
        cast(sum(unpivoted.revenue) as decimal(18, 2)) as revenue

    from unpivoted
    left join tenants
        on tenants.tenant_id = unpivoted.tenant_id
    group by
        unpivoted.tenant_id,
        unpivoted.conversion_date,
        unpivoted.channel,
        unpivoted.model,
        tenants.currency
    having sum(unpivoted.credit) > 0

)

select * from final
