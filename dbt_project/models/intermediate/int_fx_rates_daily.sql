{#
    One rate per currency and calendar day. Days without a published rate take the last earlier
    rate (fill forward), from each currency's first rate through the last day that has FX or ad
    delivery data. USD is 1 on every day unless the feed says otherwise.
#}
with

rates as (

    select * from {{ ref('stg_fx__rates') }}

),

ad_performance as (

    select * from {{ ref('int_ad_performance_unioned') }}

),

fx_bounds as (

    select
        min(date) as first_date,
        max(date) as last_date

    from rates

),

ad_bounds as (

    select max(date) as last_date

    from ad_performance

),

bounds as (

    select
        fx_bounds.first_date,
        -- greatest() returns null on some engines when one side is null
        coalesce(greatest(fx_bounds.last_date, ad_bounds.last_date), fx_bounds.last_date) as last_date

    from fx_bounds
    cross join ad_bounds

),

day_numbers as (

    {{ dbt.generate_series(var('fx_spine_max_days') | int) }}

),

calendar as (

    select
        cast({{ dbt.dateadd('day', 'day_numbers.generated_number - 1', 'bounds.first_date') }} as date) as date

    from day_numbers
    cross join bounds
    where day_numbers.generated_number - 1 <= {{ dbt.datediff('bounds.first_date', 'bounds.last_date', 'day') }}

),

currencies as (

    select currency from rates
    union
    select 'USD' as currency

),

rate_validity as (

    select
        currency,
        rate_to_usd,
        date as valid_from,
        lead(date) over (partition by currency order by date) as valid_until

    from rates

),

filled as (

    select
        currencies.currency,
        calendar.date,
        rate_validity.valid_from as rate_date,
        coalesce(
            rate_validity.rate_to_usd,
            case when currencies.currency = 'USD' then cast(1 as decimal(18, 8)) end
        ) as rate_to_usd

    from calendar
    cross join currencies
    left join rate_validity
        on rate_validity.currency = currencies.currency
        and rate_validity.valid_from <= calendar.date
        and (rate_validity.valid_until is null or calendar.date < rate_validity.valid_until)

),

final as (

    select
        currency,
        date,
        rate_to_usd,
        rate_date,
        coalesce(rate_date <> date, true) as is_filled_forward

    from filled
    where rate_to_usd is not null

)

select * from final
