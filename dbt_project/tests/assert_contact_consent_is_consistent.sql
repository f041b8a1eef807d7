{#
    Marketing consent in stg_hubspot__contacts: a contact counted as opted in has no opt-out, and an
    opt-out never comes before the opt-in it ends. Returns the contacts that break this. No rows = pass.
#}
select
    tenant_id,
    contact_id,
    has_marketing_opt_in,
    marketing_opted_in_at,
    marketing_opted_out_at

from {{ ref('stg_hubspot__contacts') }}

where
    (has_marketing_opt_in and marketing_opted_out_at is not null)
    or marketing_opted_out_at < marketing_opted_in_at
