with

source as (

    select * from {{ source('raw', 'google_ads_budget_changes') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'google_ads' as platform,
        cast(customer_id as {{ dbt.type_string() }}) as account_id,
        resource_name,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(budget_id as {{ dbt.type_string() }}) as budget_id,

        ----------  event
        upper(operation) as operation,
        change_date_time as event_time,
        change_date as event_date,

        ----------  money (micros)
        {{ to_currency_units('old_amount_micros', 'micros') }} as old_budget,
        {{ to_currency_units('new_amount_micros', 'micros') }} as new_budget

    from source

)

select * from renamed
