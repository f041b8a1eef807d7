with

source as (

    select * from {{ source('raw', 'social_mentions') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        lower(platform) as platform,
        cast(mention_id as {{ dbt.type_string() }}) as mention_id,

        ----------  text (untrusted: reaches an LLM only as fenced data)
        author_handle,
        text as mention_text,
        url,
        lower(language) as language,

        ----------  measures
        cast(author_followers as {{ dbt.type_bigint() }}) as author_followers,
        cast(likes as {{ dbt.type_bigint() }}) as likes,
        cast(reposts as {{ dbt.type_bigint() }}) as reposts,

        ----------  timestamps (UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
