with

source as (

    select * from {{ source('raw', 'meta_ads_campaigns') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'meta' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(id as {{ dbt.type_string() }}) as campaign_id,

        ----------  text
        name as campaign_name,
        upper(status) as status,
        objective,

        ----------  dates
        cast(_snapshot_date as date) as snapshot_date

    from source

)

select * from renamed
