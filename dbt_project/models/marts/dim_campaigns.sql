with

campaigns as (

    select * from {{ ref('int_campaigns_unioned') }}

),

final as (

    select
        tenant_id,
        platform,
        campaign_id,
        account_id,
        campaign_name as name,
        status,
        currency,
        cast(target_cpa as {{ money_type() }}) as target_cpa,
        cast(daily_budget as {{ money_type() }}) as daily_budget

    from campaigns

)

select * from final
