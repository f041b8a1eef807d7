{#
    Lift tests from the measurement vendor's read-outs. A read-out may be re-issued in a later drop
    (a corrected analysis): the (test, KPI) row from the latest drop is kept.

    A test compares the channel at treatment_spend_scale x its business-as-usual spend against
    control_spend_scale x it: a holdout/geo test is 1.0 / 0.0, a budget-scaling test ("scale")
    1.5 / 1.0 or 1.0 / 0.5. Rows loaded before raw.lift_tests had the columns (NULL) were holdouts.
#}
with

source as (

    select * from {{ source('raw', 'lift_tests') }}

),

latest_drop as (

    select
        *,
        row_number() over (
            partition by tenant_id, test_id, kpi
            order by _partition desc, _loaded_at desc
        ) as drop_rank

    from source

),

renamed as (

    select
        ----------  ids
        cast(tenant_id as {{ dbt.type_string() }}) as tenant_id,
        cast(test_id as {{ dbt.type_string() }}) as test_id,

        ----------  text
        lower(channel) as channel,
        lower(method) as method,
        lower(kpi) as kpi,

        ----------  dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(end_date as date) - cast(start_date as date) + 1 as test_days,

        ----------  measures
        cast(incremental as double) as incremental,
        cast(standard_error as double) as standard_error,
        cast(coalesce(treatment_spend_scale, 1.0) as double) as treatment_spend_scale,
        cast(coalesce(control_spend_scale, 0.0) as double) as control_spend_scale,

        cast(_partition as date) as dropped_on

    from latest_drop
    where drop_rank = 1

)

select * from renamed
