with

source as (

    select * from {{ source('raw', 'linkedin_ads_campaign_groups') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'linkedin' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(id as {{ dbt.type_string() }}) as campaign_id,

        ----------  text
        name as campaign_name,
        upper(status) as status

    from source

)

select * from renamed
