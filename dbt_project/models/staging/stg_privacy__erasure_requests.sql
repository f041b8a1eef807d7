{#
    Right-to-be-forgotten requests as loaded (the erasure itself runs in the pipeline, before dbt:
    pipelines/privacy.py). Kept so marts and activation can prove who must stay suppressed.
#}
with

source as (

    select * from {{ source('raw', 'erasure_requests') }}

),

latest_drop as (

    select
        *,
        row_number() over (
            partition by tenant_id, request_id
            order by _partition desc, _loaded_at desc
        ) as drop_rank

    from source

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(request_id as {{ dbt.type_string() }}) as request_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(email_sha256 as {{ dbt.type_string() }}) as email_sha256,

        ----------  timestamps (UTC)
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
        cast(_partition as date) as dropped_on

    from latest_drop
    where drop_rank = 1

)

select * from renamed
