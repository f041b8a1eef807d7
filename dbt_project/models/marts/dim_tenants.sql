with

tenants as (

    select * from {{ ref('tenants') }}

),

final as (

    select
        tenant_id,
        name,
        currency,
        timezone

    from tenants

)

select * from final
