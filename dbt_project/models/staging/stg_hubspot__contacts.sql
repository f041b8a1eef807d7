with

source as (

    select * from {{ source('raw', 'hubspot_contacts') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(id as {{ dbt.type_string() }}) as contact_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,

        ----------  text
        email,
        firstname as first_name,
        lastname as last_name,
        lower(lifecyclestage) as lifecycle_stage,

        ----------  booleans
        coalesce(archived, false) as is_archived,
        -- marketing consent: true only for an opt-in without a later opt-out; unknown = no consent
        coalesce(marketing_opt_in, false) as has_marketing_opt_in,

        ----------  timestamps (UTC)
        cast(createdate as {{ dbt.type_timestamp() }}) as created_at,
        cast(lastmodifieddate as {{ dbt.type_timestamp() }}) as updated_at,
        cast(lead_date as {{ dbt.type_timestamp() }}) as became_lead_at,
        cast(mql_date as {{ dbt.type_timestamp() }}) as became_mql_at,
        cast(sql_date as {{ dbt.type_timestamp() }}) as became_sql_at,
        cast(opportunity_date as {{ dbt.type_timestamp() }}) as became_opportunity_at,
        cast(customer_date as {{ dbt.type_timestamp() }}) as became_customer_at,
        cast(opt_in_date as {{ dbt.type_timestamp() }}) as marketing_opted_in_at,
        cast(opt_out_date as {{ dbt.type_timestamp() }}) as marketing_opted_out_at

    from source

)

select * from renamed
