with

source as (

    select * from {{ source('raw', 'touchpoints') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,

        ----------  text
        lower(event_type) as event_type,
        utm_source,
        utm_medium,
        utm_campaign,
        landing_page,

        ----------  timestamps (UTC; the tenant-local date is added in int_touchpoints_channeled)
        cast(event_ts as {{ dbt.type_timestamp() }}) as event_ts

    from source

)

select * from renamed
