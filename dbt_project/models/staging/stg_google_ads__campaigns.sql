with

source as (

    select * from {{ source('raw', 'google_ads_campaigns') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'google_ads' as platform,
        cast(customer_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(budget_id as {{ dbt.type_string() }}) as budget_id,

        ----------  text
        name as campaign_name,
        upper(status) as status,

        ----------  money (micros)
        {{ to_currency_units('budget_amount_micros', 'micros') }} as daily_budget,
        {{ to_currency_units('target_cpa_micros', 'micros') }} as target_cpa

    from source

)

select * from renamed
