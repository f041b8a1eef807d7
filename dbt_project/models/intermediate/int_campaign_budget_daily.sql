{#
    The planned daily budget in force on each campaign-day, from the platforms' change logs
    (Meta activity log: the creation budget, then each change; Google Ads change_event on campaign
    budgets). A budget owner's (campaign or Meta ad set) last event of a day sets its budget from that
    day on, carried forward until its next event or the platform's last day of delivery data for the
    tenant; Meta ad set budgets are summed into their campaign.

    Google keeps change_event for 30 days only, so a campaign's budget before its first known change
    is known only inside that window: over the 30 days ending on the last delivery day, the days
    before a campaign's first known change get that change's old budget (none when it was the
    creation), and campaigns with no change get their current budget (raw.google_ads_campaigns).
    Days outside every window and before the first known change stay unknown (no row).

    One row per (tenant_id, platform, campaign_id, date); read by ml/anomalies, which scores spend as
    pacing against it so a planned budget change does not alarm.
#}
with

changes as (

    select tenant_id, platform, object_type, object_id, event_date, event_time, event_type, new_budget
    from {{ ref('stg_meta_ads__budget_changes') }}
    union all
    select tenant_id, platform, 'CAMPAIGN', campaign_id, event_date, event_time, operation, new_budget
    from {{ ref('stg_google_ads__budget_changes') }}
    where operation != 'REMOVE'

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

data_end as (

    select tenant_id, platform, max(date) as last_date
    from {{ ref('int_ad_performance_unioned') }}
    group by tenant_id, platform

),

google_first as (

    select tenant_id, campaign_id, event_date, operation, old_budget
    from (
        select
            *,
            row_number() over (partition by tenant_id, campaign_id order by event_time, resource_name) as n
        from {{ ref('stg_google_ads__budget_changes') }}
    ) as ranked
    where n = 1

),

google_lead_in as (

    -- the 30-day window's days before the first known change (or all of it without a change)
    select
        c.tenant_id,
        c.platform,
        'CAMPAIGN' as object_type,
        c.campaign_id as object_id,
        cast(e.last_date - 29 as date) as start_date,
        coalesce(f.old_budget, c.daily_budget) as budget,
        f.event_date as next_date
    from {{ ref('stg_google_ads__campaigns') }} as c
    inner join data_end as e on e.tenant_id = c.tenant_id and e.platform = c.platform
    left join google_first as f on f.tenant_id = c.tenant_id and f.campaign_id = c.campaign_id
    where coalesce(f.operation, 'UPDATE') != 'CREATE'
        and coalesce(f.event_date, e.last_date + 1) > e.last_date - 29
        and coalesce(f.old_budget, c.daily_budget) is not null

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
    from (
        select tenant_id, platform, object_type, object_id, start_date, budget, next_date from owner_spans
        union all
        select tenant_id, platform, object_type, object_id, start_date, budget, next_date from google_lead_in
    ) as s
    left join adsets as a
        on s.object_type = 'ADSET' and a.tenant_id = s.tenant_id and a.ad_group_id = s.object_id

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
