{#
    The business outcome per tenant and day, for the media-mix model: closed-won deals (the CRM's
    sales) by the tenant-local day they converted, whatever their channel. Equal to summing
    fct_channel_daily.attributed_* over channels, but with the grain the model needs and no
    attribution in between. Days without a sale have no row.
#}
with

conversions as (

    select * from {{ ref('int_conversions_attributed') }}

),

final as (

    select
        tenant_id,
        conversion_date as date,
        cast(count(*) as {{ dbt.type_bigint() }}) as conversions,
        cast(sum(revenue) as {{ money_type() }}) as revenue

    from conversions
    group by tenant_id, conversion_date

)

select * from final
