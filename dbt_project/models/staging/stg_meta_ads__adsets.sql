with

source as (

    select * from {{ source('raw', 'meta_ads_adsets') }}

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        'meta' as platform,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(id as {{ dbt.type_string() }}) as ad_group_id,

        ----------  text
        name as ad_group_name,
        upper(status) as status,
        upper(bid_strategy) as bid_strategy,

        ----------  money (Meta sends minor units: 2000 = 20.00)
        {{ to_currency_units('daily_budget', 'minor') }} as daily_budget,
        {{ to_currency_units('bid_amount', 'minor') }} as bid_amount

    from source

)

select * from renamed
