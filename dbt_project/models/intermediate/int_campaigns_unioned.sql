{#
    Meta and Google campaigns with budget and target CPA in account currency.
    Meta: latest snapshot of the campaign; daily_budget = sum of its ad sets' daily budgets;
    target_cpa = the largest cost-cap bid among its ad sets (bid_strategy COST_CAP or unset).
    Google: campaign budget and target_cpa_micros.
    LinkedIn (campaign group) and TikTok (campaign): daily_budget = sum of the daily budgets of their
    LinkedIn campaigns / TikTok ad groups; no target CPA is read from either platform (null).
    Currency: the account's currency as seen in delivery, else the tenant currency.
#}
with

meta_campaign_snapshots as (

    select * from {{ ref('stg_meta_ads__campaigns') }}

),

meta_adsets as (

    select * from {{ ref('stg_meta_ads__adsets') }}

),

google_campaigns as (

    select * from {{ ref('stg_google_ads__campaigns') }}

),

linkedin_campaign_groups as (

    select * from {{ ref('stg_linkedin_ads__campaign_groups') }}

),

linkedin_campaigns as (

    select * from {{ ref('stg_linkedin_ads__campaigns') }}

),

tiktok_campaigns as (

    select * from {{ ref('stg_tiktok_ads__campaigns') }}

),

tiktok_adgroups as (

    select * from {{ ref('stg_tiktok_ads__adgroups') }}

),

ad_performance as (

    select * from {{ ref('int_ad_performance_unioned') }}

),

tenants as (

    select * from {{ ref('tenants') }}

),

ranked_meta_snapshots as (

    select
        *,
        row_number() over (
            partition by tenant_id, campaign_id
            order by snapshot_date desc
        ) as snapshot_rank

    from meta_campaign_snapshots

),

meta_adset_rollup as (

    select
        tenant_id,
        campaign_id,
        sum(daily_budget) as daily_budget,
        max(
            case
                when bid_strategy = 'COST_CAP' or bid_strategy is null then bid_amount
            end
        ) as target_cpa

    from meta_adsets
    group by tenant_id, campaign_id

),

meta_campaigns as (

    select
        ranked_meta_snapshots.tenant_id,
        ranked_meta_snapshots.platform,
        ranked_meta_snapshots.campaign_id,
        ranked_meta_snapshots.account_id,
        ranked_meta_snapshots.campaign_name,
        ranked_meta_snapshots.status,
        meta_adset_rollup.target_cpa,
        meta_adset_rollup.daily_budget

    from ranked_meta_snapshots
    left join meta_adset_rollup
        on meta_adset_rollup.tenant_id = ranked_meta_snapshots.tenant_id
        and meta_adset_rollup.campaign_id = ranked_meta_snapshots.campaign_id
    where ranked_meta_snapshots.snapshot_rank = 1

),

google_campaigns_shaped as (

    select
        tenant_id,
        platform,
        campaign_id,
        account_id,
        campaign_name,
        status,
        target_cpa,
        daily_budget

    from google_campaigns

),

linkedin_budget_rollup as (

    select
        tenant_id,
        campaign_id,
        sum(daily_budget) as daily_budget

    from linkedin_campaigns
    group by tenant_id, campaign_id

),

linkedin_campaigns_shaped as (

    select
        linkedin_campaign_groups.tenant_id,
        linkedin_campaign_groups.platform,
        linkedin_campaign_groups.campaign_id,
        linkedin_campaign_groups.account_id,
        linkedin_campaign_groups.campaign_name,
        linkedin_campaign_groups.status,
        cast(null as {{ money_type() }}) as target_cpa,
        linkedin_budget_rollup.daily_budget

    from linkedin_campaign_groups
    left join linkedin_budget_rollup
        on linkedin_budget_rollup.tenant_id = linkedin_campaign_groups.tenant_id
        and linkedin_budget_rollup.campaign_id = linkedin_campaign_groups.campaign_id

),

tiktok_budget_rollup as (

    select
        tenant_id,
        campaign_id,
        sum(daily_budget) as daily_budget

    from tiktok_adgroups
    group by tenant_id, campaign_id

),

tiktok_campaigns_shaped as (

    select
        tiktok_campaigns.tenant_id,
        tiktok_campaigns.platform,
        tiktok_campaigns.campaign_id,
        tiktok_campaigns.account_id,
        tiktok_campaigns.campaign_name,
        tiktok_campaigns.status,
        cast(null as {{ money_type() }}) as target_cpa,
        tiktok_budget_rollup.daily_budget

    from tiktok_campaigns
    left join tiktok_budget_rollup
        on tiktok_budget_rollup.tenant_id = tiktok_campaigns.tenant_id
        and tiktok_budget_rollup.campaign_id = tiktok_campaigns.campaign_id

),

unioned as (

    select * from meta_campaigns
    union all
    select * from google_campaigns_shaped
    union all
    select * from linkedin_campaigns_shaped
    union all
    select * from tiktok_campaigns_shaped

),

account_currencies as (

    select
        tenant_id,
        platform,
        account_id,
        max(currency) as currency

    from ad_performance
    group by tenant_id, platform, account_id

),

final as (

    select
        unioned.tenant_id,
        unioned.platform,
        unioned.campaign_id,
        unioned.account_id,
        unioned.campaign_name,
        unioned.status,
        coalesce(account_currencies.currency, tenants.currency) as currency,
        unioned.target_cpa,
        unioned.daily_budget

    from unioned
    left join account_currencies
        on account_currencies.tenant_id = unioned.tenant_id
        and account_currencies.platform = unioned.platform
        and account_currencies.account_id = unioned.account_id
    left join tenants
        on tenants.tenant_id = unioned.tenant_id

)

select * from final
