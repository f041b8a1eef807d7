with

source as (

    select * from {{ source('raw', 'linkedin_ads_creatives') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'linkedin' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(id as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        name as ad_name,
        upper(status) as status,

        ----------  timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at

    from source

)

select * from renamed
