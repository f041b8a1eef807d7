{#
    fct_channel_daily adds spend across ad accounts and compares it with CRM revenue, both in the
    tenant currency. That is only right while every ad account reports in its tenant's currency;
    this returns the accounts that do not. No rows = pass.
#}
with

ad_accounts as (

    select distinct
        tenant_id,
        platform,
        account_id,
        currency

    from {{ ref('fct_ad_performance_daily') }}

),

tenants as (

    select * from {{ ref('dim_tenants') }}

)

select
    ad_accounts.tenant_id,
    ad_accounts.platform,
    ad_accounts.account_id,
    ad_accounts.currency as account_currency,
    tenants.currency as tenant_currency

from ad_accounts
left join tenants
    on tenants.tenant_id = ad_accounts.tenant_id
where tenants.currency is null
    or tenants.currency <> ad_accounts.currency
