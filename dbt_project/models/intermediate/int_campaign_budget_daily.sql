{#
    The planned daily budget in force on each campaign-day, from the platforms' change logs
    (Meta activity log: the creation budget, then each change). A budget owner's (campaign or ad
    set) last event of a day sets its budget from that day on, carried forward until its next event
    or the platform's last day of delivery data for the tenant; ad set budgets are summed into their
    campaign. One row per (tenant_id, platform, campaign_id, date); read by ml/anomalies, which
    scores spend as pacing against it so a planned budget change does not alarm.
#}
with

changes as (

    select tenant_id, platform, object_type, object_id, event_date, event_time, event_type, new_budget
    from {{ ref('stg_meta_ads__budget_changes') }}

),

owner_days as (

    select tenant_id, platform, object_type, object_id, event_date as start_date, new_budget as budget
    from (
        select
            *,
            row_number() over (
                partition by tenant_id, platform, object_id, event_date order by event_time desc, event_type desc
            ) as last_of_day
        from changes
    ) as ranked
    where last_of_day = 1

),

owner_spans as (

    select
        *,
        lead(start_date) over (partition by tenant_id, platform, object_id order by start_date) as next_date
    from owner_days

),

adsets as (

    select tenant_id, ad_group_id, campaign_id from {{ ref('stg_meta_ads__adsets') }}

),

owners as (

    select
        s.tenant_id,
        s.platform,
        s.object_id,
        case when s.object_type = 'ADSET' then a.campaign_id else s.object_id end as campaign_id,
        s.start_date,
        s.next_date,
        s.budget
    from owner_spans as s
    left join adsets as a
        on s.object_type = 'ADSET' and a.tenant_id = s.tenant_id and a.ad_group_id = s.object_id

),

data_end as (

    select tenant_id, platform, max(date) as last_date
    from {{ ref('int_ad_performance_unioned') }}
    group by tenant_id, platform

),

owner_daily as (

    select
        o.tenant_id,
        o.platform,
        o.campaign_id,
        o.object_id,
        o.budget,
        cast(unnest(generate_series(
            cast(o.start_date as timestamp),
            cast(coalesce(o.next_date - 1, e.last_date) as timestamp),
            interval 1 day
        )) as date) as date
    from owners as o
    inner join data_end as e on e.tenant_id = o.tenant_id and e.platform = o.platform
    where o.campaign_id is not null

)

select
    tenant_id,
    platform,
    campaign_id,
    date,
    cast(sum(budget) as double) as daily_budget
from owner_daily
group by tenant_id, platform, campaign_id, date
