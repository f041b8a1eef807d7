with

source as (

    select * from {{ source('raw', 'tiktok_ads_ads') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'tiktok' as platform,
        cast(advertiser_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(adgroup_id as {{ dbt.type_string() }}) as ad_group_id,
        cast(ad_id as {{ dbt.type_string() }}) as ad_id,

        ----------  text
        ad_name,
        {{ tiktok_status('operation_status') }} as status,
        upper(operation_status) as operation_status,

        ----------  timestamps (TikTok's create_time is UTC)
        cast(create_time as {{ dbt.type_timestamp() }}) as created_at

    from source

)

select * from renamed
