with

source as (

    select * from {{ source('raw', 'social_influencers') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        lower(platform) as platform,
        cast(influencer_id as {{ dbt.type_string() }}) as influencer_id,

        ----------  text
        handle,
        display_name,
        lower(category) as category,
        upper(country) as country,

        ----------  measures
        cast(followers as {{ dbt.type_bigint() }}) as followers,
        cast(engagement_rate as double) as engagement_rate,
        cast(avg_reach as {{ dbt.type_bigint() }}) as avg_reach,

        ----------  load
        _loaded_at as loaded_at

    from source

)

select * from renamed
