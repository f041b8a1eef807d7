with

source as (

    select * from {{ source('raw', 'google_ads_ads') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'google_ads' as platform,
        cast(customer_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(ad_group_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(ad_id as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        name as ad_name,
        upper(status) as status

    from source

)

select * from renamed
