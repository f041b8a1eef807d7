{#
    Owned-media volume per tenant-local day, the non-spend media inputs of the media-mix model
    (as Robyn's organic_vars): `email` = emails delivered (sent - hard - soft bounces) of the
    Mailchimp campaigns, `organic_social` = the organic reach of the posts published that day.

    Regular (newsletter) campaigns count on their send day. An automation reports one lifetime total,
    so its delivered emails and clicks are spread evenly over every day from its start to the tenant's
    last day of owned-media data (the last newsletter or post). A post's reach counts on the day it
    was published (its tail on the following days is left to the model's adstock).
    Days without owned media have no row.
#}
with

email_reports as (

    select * from {{ ref('stg_mailchimp__email_reports') }}

),

posts as (

    select * from {{ ref('stg_social__posts') }}

),

tenants as (

    select * from {{ ref('dim_tenants') }}

),

emails_local as (

    select
        email_reports.tenant_id,
        email_reports.campaign_type,
        cast({{ utc_to_local('email_reports.sent_at', 'tenants.timezone') }} as date) as date,
        cast(email_reports.emails_sent as double) as emails_sent,
        cast(
            email_reports.emails_sent - email_reports.hard_bounces - email_reports.soft_bounces as double
        ) as delivered,
        cast(email_reports.unique_clicks as double) as clicks

    from email_reports
    inner join tenants
        on tenants.tenant_id = email_reports.tenant_id

),

posts_local as (

    select
        posts.tenant_id,
        cast({{ utc_to_local('posts.created_at', 'tenants.timezone') }} as date) as date,
        cast(posts.reach as double) as reach,
        cast(posts.impressions as double) as impressions,
        cast(posts.link_clicks as double) as clicks

    from posts
    inner join tenants
        on tenants.tenant_id = posts.tenant_id

),

data_end as (

    select tenant_id, max(date) as last_date
    from (
        select tenant_id, date from emails_local where campaign_type <> 'automation'
        union all
        select tenant_id, date from posts_local
    ) as dated
    group by tenant_id

),

automations as (

    select
        emails_local.*,
        greatest(datediff('day', emails_local.date, data_end.last_date) + 1, 1) as n_days,
        greatest(data_end.last_date, emails_local.date) as last_date

    from emails_local
    inner join data_end
        on data_end.tenant_id = emails_local.tenant_id
    where emails_local.campaign_type = 'automation'

),

email_days as (

    select
        tenant_id,
        date,
        1 as sends,
        emails_sent,
        delivered,
        clicks
    from emails_local
    where campaign_type <> 'automation'

    union all

    select
        tenant_id,
        cast(unnest(generate_series(
            cast(date as timestamp), cast(last_date as timestamp), interval 1 day
        )) as date) as date,
        0 as sends,
        emails_sent / n_days as emails_sent,
        delivered / n_days as delivered,
        clicks / n_days as clicks
    from automations

),

email_daily as (

    select
        tenant_id,
        date,
        'email' as channel,
        sum(delivered) as volume,
        sum(sends) as items,
        sum(emails_sent) as sent,
        cast(null as double) as impressions,
        sum(clicks) as clicks
    from email_days
    group by tenant_id, date

),

social_daily as (

    select
        tenant_id,
        date,
        'organic_social' as channel,
        sum(reach) as volume,
        count(*) as items,
        cast(null as double) as sent,
        sum(impressions) as impressions,
        sum(clicks) as clicks
    from posts_local
    group by tenant_id, date

),

final as (

    select
        tenant_id,
        date,
        channel,
        cast(volume as double) as volume,
        cast(items as {{ dbt.type_bigint() }}) as items,
        cast(sent as double) as emails_sent,
        cast(impressions as double) as impressions,
        cast(clicks as double) as clicks
    from email_daily

    union all

    select
        tenant_id,
        date,
        channel,
        cast(volume as double) as volume,
        cast(items as {{ dbt.type_bigint() }}) as items,
        cast(sent as double) as emails_sent,
        cast(impressions as double) as impressions,
        cast(clicks as double) as clicks
    from social_daily

)

select * from final
