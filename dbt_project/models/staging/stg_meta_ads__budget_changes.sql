with

source as (

    select * from {{ source('raw', 'meta_ads_budget_changes') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'meta' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        upper(object_type) as object_type,
        cast(object_id as {{ dbt.type_string() }}) as object_id,

        ----------  event
        event_type,
        event_time,
        event_date,

        ----------  money (Meta sends minor units: 2000 = 20.00)
        {{ to_currency_units('old_budget', 'minor') }} as old_budget,
        {{ to_currency_units('new_budget', 'minor') }} as new_budget,
        upper(currency) as currency

    from source

)

select * from renamed
