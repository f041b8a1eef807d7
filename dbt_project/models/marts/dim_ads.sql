with

ads as (

    select * from {{ ref('int_ads_unioned') }}

),

final as (

    select
        tenant_id,
        platform,
        ad_id,
        account_id,
        campaign_id,
        ad_group_id,
        ad_name as name,
        status,
        created_at

    from ads

)

select * from final
