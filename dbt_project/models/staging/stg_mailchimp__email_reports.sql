with

source as (

    select * from {{ source('raw', 'mailchimp_email_reports') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'mailchimp' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as email_campaign_id,
        cast(list_id as {{ dbt.type_string() }}) as list_id,

        ----------  text
        campaign_title,
        lower(type) as campaign_type,

        ----------  measures (lifetime counts as of the last read)
        cast(emails_sent as {{ dbt.type_bigint() }}) as emails_sent,
        cast(hard_bounces as {{ dbt.type_bigint() }}) as hard_bounces,
        cast(soft_bounces as {{ dbt.type_bigint() }}) as soft_bounces,
        cast(unsubscribed as {{ dbt.type_bigint() }}) as unsubscribes,
        cast(abuse_reports as {{ dbt.type_bigint() }}) as abuse_reports,
        cast(opens_total as {{ dbt.type_bigint() }}) as opens,
        cast(unique_opens as {{ dbt.type_bigint() }}) as unique_opens,
        cast(clicks_total as {{ dbt.type_bigint() }}) as clicks,
        cast(unique_clicks as {{ dbt.type_bigint() }}) as unique_clicks,

        ----------  timestamps (UTC)
        cast(send_time as {{ dbt.type_timestamp() }}) as sent_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
