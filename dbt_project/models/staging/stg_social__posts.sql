with

source as (

    select * from {{ source('raw', 'social_posts') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        lower(platform) as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(post_id as {{ dbt.type_string() }}) as post_id,

        ----------  text
        lower(post_type) as post_type,
        message,
        permalink,

        ----------  measures (lifetime as of the last read)
        cast(reach as {{ dbt.type_bigint() }}) as reach,
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(likes as {{ dbt.type_bigint() }}) as likes,
        cast(comments as {{ dbt.type_bigint() }}) as comments,
        cast(shares as {{ dbt.type_bigint() }}) as shares,
        cast(saves as {{ dbt.type_bigint() }}) as saves,
        cast(link_clicks as {{ dbt.type_bigint() }}) as link_clicks,

        ----------  timestamps (UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
