{#
    fct_channel_daily adds spend across ad accounts and compares it with CRM revenue, both in the
    tenant currency. That is only right while every ad account reports in its tenant's currency;
    this returns the accounts that do not. No rows = pass.
#}
{#-
    Several parents: tell Dagster (dagster-dbt) which asset this check belongs to. The rows it
    checks are fct_ad_performance_daily's ad accounts, and it runs before fct_channel_daily is
    built (a failure makes `dbt build` skip fct_channel_daily), so it is a check on
    fct_ad_performance_daily rather than on the previous build of fct_channel_daily.
#}
{{ config(meta={"dagster": {"ref": {"name": "fct_ad_performance_daily"}}}) }}

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
