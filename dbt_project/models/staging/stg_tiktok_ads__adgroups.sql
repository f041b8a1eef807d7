{# TikTok ad groups own status and the daily budget (budget_mode BUDGET_MODE_DAY). #}
with

source as (

    select * from {{ source('raw', 'tiktok_ads_adgroups') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'tiktok' as platform,
        cast(advertiser_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(adgroup_id as {{ dbt.type_string() }}) as ad_group_id,

        ----------  text
        adgroup_name as ad_group_name,
        {{ tiktok_status('operation_status') }} as status,
        upper(operation_status) as operation_status,
        budget_mode,

        ----------  money (a daily budget only when budget_mode is BUDGET_MODE_DAY)
        case
            when budget_mode = 'BUDGET_MODE_DAY' then {{ to_currency_units('budget', 'major') }}
        end as daily_budget

    from source

)

select * from renamed
