with

source as (

    select * from {{ source('raw', 'hubspot_deals') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(id as {{ dbt.type_string() }}) as deal_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,

        ----------  text
        dealname as deal_name,
        lower(dealstage) as deal_stage,
        pipeline,

        ----------  money (tenant currency)
        {{ to_currency_units('amount', 'major') }} as amount,

        ----------  timestamps (UTC)
        cast(createdate as {{ dbt.type_timestamp() }}) as created_at,
        cast(closedate as {{ dbt.type_timestamp() }}) as closed_at,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as updated_at

    from source

    -- archived deals are deleted in HubSpot: they are not business facts any more
    where not coalesce(archived, false)

)

select * from renamed
