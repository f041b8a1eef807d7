{#
    Store and phone purchases from the point-of-sale drops. A drop may repeat an order (a corrected
    re-export): the order's row from the latest drop is kept, so the grain is one row per order.
#}
with

source as (

    select * from {{ source('raw', 'offline_conversions') }}

),

latest_drop as (

    select
        *,
        row_number() over (
            partition by tenant_id, order_id
            order by _partition desc, _loaded_at desc
        ) as drop_rank

    from source

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(email_sha256 as {{ dbt.type_string() }}) as email_sha256,

        ----------  text
        lower(location) as location,
        upper(currency) as currency,

        ----------  measures
        {{ to_currency_units('value', 'major') }} as revenue,

        ----------  dates and timestamps
        cast(conversion_ts as {{ dbt.type_timestamp() }}) as converted_at,
        cast(_partition as date) as dropped_on

    from latest_drop
    where drop_rank = 1

)

select * from renamed
