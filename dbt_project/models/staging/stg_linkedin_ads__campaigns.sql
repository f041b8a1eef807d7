{# LinkedIn campaigns are the shared model's ad groups: they own status and the daily budget. #}
with

source as (

    select * from {{ source('raw', 'linkedin_ads_campaigns') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'linkedin' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_group_id as {{ dbt.type_string() }}) as campaign_id,
        cast(id as {{ dbt.type_string() }}) as ad_group_id,

        ----------  text
        name as ad_group_name,
        upper(status) as status,
        upper(currency) as currency,

        ----------  money (dailyBudget.amount, already in currency units)
        {{ to_currency_units('daily_budget_amount', 'major') }} as daily_budget

    from source

)

select * from renamed
