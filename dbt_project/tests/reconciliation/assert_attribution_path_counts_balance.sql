{#
    The path counts hold every journey exactly once: per tenant, period and Markov order, the
    journeys leaving (start) equal those absorbed in (conversion) or (null) and the journeys of
    fct_attribution_coalitions; those absorbed in (conversion) equal its conversions. No rows = pass.
#}
{{ config(meta={"dagster": {"ref": {"name": "fct_attribution_transitions"}}}) }}

with

markov as (

    select
        tenant_id,
        period,
        markov_order,
        sum(case when from_state = '(start)' then transitions else 0 end) as started,
        sum(case when to_state in ('(conversion)', '(null)') then transitions else 0 end) as absorbed,
        sum(case when to_state = '(conversion)' then transitions else 0 end) as converted

    from {{ ref('fct_attribution_transitions') }}
    group by tenant_id, period, markov_order

),

coalitions as (

    select
        tenant_id,
        period,
        sum(journeys) as journeys,
        sum(conversions) as conversions

    from {{ ref('fct_attribution_coalitions') }}
    group by tenant_id, period

),

compared as (

    select
        markov.tenant_id,
        markov.period,
        markov.markov_order,
        markov.started,
        markov.absorbed,
        markov.converted,
        coalitions.journeys,
        coalitions.conversions

    from markov
    left join coalitions
        on coalitions.tenant_id = markov.tenant_id
        and coalitions.period = markov.period

)

select *
from compared
where started <> absorbed
    or coalesce(journeys, -1) <> started
    or coalesce(conversions, -1) <> converted
