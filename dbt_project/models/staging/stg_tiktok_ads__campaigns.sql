with

source as (

    select * from {{ source('raw', 'tiktok_ads_campaigns') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'tiktok' as platform,
        cast(advertiser_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ----------  text
        campaign_name,
        {{ tiktok_status('operation_status') }} as status,
        upper(operation_status) as operation_status,
        objective_type

    from source

)

select * from renamed
