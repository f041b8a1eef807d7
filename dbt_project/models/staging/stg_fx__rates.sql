with

source as (

    select * from {{ source('raw', 'fx_rates') }}

),

renamed as (

    select
        ----------  ids
        upper(currency) as currency,

        ----------  measures (exact decimal so money * rate stays decimal)
        cast(rate_to_usd as decimal(18, 8)) as rate_to_usd,

        ----------  dates
        cast(date as date) as date

    from source

)

select * from renamed
