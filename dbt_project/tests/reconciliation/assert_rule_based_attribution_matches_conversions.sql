{#
    Every rule-based model credits each conversion exactly once: per tenant, conversion date and
    model, the credited conversions equal the day's converting journeys (int_conversion_paths) and
    the credited revenue equals their revenue (within half a cent per credited row: revenue is
    rounded per row). A model missing on a day with conversions fails too. No rows = pass.
#}
{{ config(meta={"dagster": {"ref": {"name": "fct_attribution_rule_based"}}}) }}

with

conversions_by_day as (

    select
        tenant_id,
        conversion_date as date,
        count(*) as conversions,
        sum(revenue) as revenue

    from {{ ref('int_conversion_paths') }}
    group by tenant_id, conversion_date

),

models as (

    select distinct model from {{ ref('fct_attribution_rule_based') }}

),

expected as (

    select
        conversions_by_day.tenant_id,
        conversions_by_day.date,
        models.model,
        conversions_by_day.conversions,
        conversions_by_day.revenue

    from conversions_by_day
    cross join models

),

credited as (

    select
        tenant_id,
        date,
        model,
        sum(conversions) as conversions,
        sum(revenue) as revenue,
        count(*) as n_rows

    from {{ ref('fct_attribution_rule_based') }}
    group by tenant_id, date, model

),

compared as (

    select
        coalesce(expected.tenant_id, credited.tenant_id) as tenant_id,
        coalesce(expected.date, credited.date) as date,
        coalesce(expected.model, credited.model) as model,
        coalesce(expected.conversions, 0) as expected_conversions,
        coalesce(credited.conversions, 0) as credited_conversions,
        coalesce(expected.revenue, 0) as expected_revenue,
        coalesce(credited.revenue, 0) as credited_revenue,
        coalesce(credited.n_rows, 0) as n_rows

    from expected
    full outer join credited
        on credited.tenant_id = expected.tenant_id
        and credited.date = expected.date
        and credited.model = expected.model

)

select *
from compared
where abs(expected_conversions - credited_conversions) > 1e-6
    or abs(expected_revenue - credited_revenue) > 0.005 * n_rows + 1e-9
