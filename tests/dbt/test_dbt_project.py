"""The dbt project, built end to end on a small hand-written warehouse.

A temporary DuckDB file gets raw.* tables shaped exactly like docs/INTERFACES.md §4, filled with a
few rows whose right answers are known by hand: two tenants (one EUR), a day on which Meta and
Google both spend, a Google cost that is not whole cents, a missing FX day, closed-won deals with
and without touchpoints, an archived deal and a closed-lost deal. `dbt build` (seeds, models,
unit tests, data tests, reconciliation tests) runs once per module through dbtRunner; the tests
then read the marts. A last test tampers with a copy of the built warehouse and checks that the
reconciliation tests catch it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from pipelines.warehouse import RAW_DDL as WAREHOUSE_DDL

D = Decimal  # money comes back from DuckDB as Decimal
PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# Load metadata every raw row carries (INTERFACES §4).
_META = "_loaded_at TIMESTAMP, _run_id VARCHAR, _partition VARCHAR, _source VARCHAR"

RAW_DDL: dict[str, str] = {
    "meta_ads_insights": """
        tenant_id VARCHAR, account_id VARCHAR, date_start DATE, campaign_id VARCHAR,
        campaign_name VARCHAR, adset_id VARCHAR, adset_name VARCHAR, ad_id VARCHAR, ad_name VARCHAR,
        account_currency VARCHAR, spend DECIMAL(18,2), impressions BIGINT, clicks BIGINT,
        conversions DOUBLE, conversion_value DECIMAL(18,2), actions VARCHAR""",
    "meta_ads_campaigns": """
        tenant_id VARCHAR, account_id VARCHAR, id VARCHAR, name VARCHAR, status VARCHAR,
        objective VARCHAR, _snapshot_date DATE""",
    "meta_ads_adsets": """
        tenant_id VARCHAR, account_id VARCHAR, id VARCHAR, campaign_id VARCHAR, name VARCHAR,
        status VARCHAR, daily_budget BIGINT, bid_strategy VARCHAR, bid_amount BIGINT""",
    "meta_ads_ads": """
        tenant_id VARCHAR, account_id VARCHAR, id VARCHAR, adset_id VARCHAR, campaign_id VARCHAR,
        name VARCHAR, status VARCHAR, created_time TIMESTAMP""",
    "google_ads_ad_stats": """
        tenant_id VARCHAR, customer_id VARCHAR, date DATE, campaign_id VARCHAR, campaign_name VARCHAR,
        ad_group_id VARCHAR, ad_group_name VARCHAR, ad_id VARCHAR, currency_code VARCHAR,
        cost_micros BIGINT, impressions BIGINT, clicks BIGINT, conversions DOUBLE,
        conversions_value DOUBLE""",
    "google_ads_campaigns": """
        tenant_id VARCHAR, customer_id VARCHAR, campaign_id VARCHAR, name VARCHAR, status VARCHAR,
        budget_id VARCHAR, budget_amount_micros BIGINT, target_cpa_micros BIGINT""",
    "google_ads_ad_groups": """
        tenant_id VARCHAR, customer_id VARCHAR, campaign_id VARCHAR, ad_group_id VARCHAR,
        name VARCHAR, status VARCHAR""",
    "google_ads_ads": """
        tenant_id VARCHAR, customer_id VARCHAR, campaign_id VARCHAR, ad_group_id VARCHAR,
        ad_id VARCHAR, name VARCHAR, status VARCHAR""",
    "hubspot_contacts": """
        tenant_id VARCHAR, id VARCHAR, email VARCHAR, firstname VARCHAR, lastname VARCHAR,
        lifecyclestage VARCHAR, anonymous_id VARCHAR, createdate TIMESTAMP,
        lastmodifieddate TIMESTAMP, lead_date TIMESTAMP, mql_date TIMESTAMP, sql_date TIMESTAMP,
        opportunity_date TIMESTAMP, customer_date TIMESTAMP, archived BOOLEAN,
        marketing_opt_in BOOLEAN, opt_in_date TIMESTAMP, opt_out_date TIMESTAMP""",
    "hubspot_deals": """
        tenant_id VARCHAR, id VARCHAR, contact_id VARCHAR, dealname VARCHAR, amount DECIMAL(18,2),
        dealstage VARCHAR, pipeline VARCHAR, createdate TIMESTAMP, closedate TIMESTAMP,
        lastmodifieddate TIMESTAMP, archived BOOLEAN""",
    "touchpoints": """
        tenant_id VARCHAR, event_id VARCHAR, anonymous_id VARCHAR, event_ts TIMESTAMP,
        event_type VARCHAR, utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR,
        landing_page VARCHAR""",
    "fx_rates": "date DATE, currency VARCHAR, rate_to_usd DOUBLE",
    # file drops (issue 3); rows for them live in tests/dbt/test_files_models.py
    "offline_conversions": """
        tenant_id VARCHAR, order_id VARCHAR, email_sha256 VARCHAR, contact_id VARCHAR,
        conversion_ts TIMESTAMP, value DECIMAL(18,2), currency VARCHAR, location VARCHAR""",
    "erasure_requests": """
        tenant_id VARCHAR, request_id VARCHAR, email_sha256 VARCHAR, contact_id VARCHAR,
        requested_at TIMESTAMP""",
    # lift tests (issue 4); rows in tests/dbt/test_files_models.py
    "lift_tests": """
        tenant_id VARCHAR, test_id VARCHAR, channel VARCHAR, method VARCHAR, kpi VARCHAR,
        start_date DATE, end_date DATE, incremental DOUBLE, standard_error DOUBLE,
        treatment_spend_scale DOUBLE, control_spend_scale DOUBLE""",
    "imported_ad_reports": """
        tenant_id VARCHAR, platform VARCHAR, account_id VARCHAR, date DATE, campaign_id VARCHAR,
        campaign_name VARCHAR, ad_group_id VARCHAR, ad_group_name VARCHAR, ad_id VARCHAR,
        ad_name VARCHAR, currency VARCHAR, spend DECIMAL(18,2), impressions BIGINT, clicks BIGINT,
        conversions DOUBLE, conversion_value DECIMAL(18,2), mapping VARCHAR""",
    # ---- owned media (mailchimp, social) ----
    "mailchimp_email_reports": """
        tenant_id VARCHAR, account_id VARCHAR, campaign_id VARCHAR, campaign_title VARCHAR, type VARCHAR,
        list_id VARCHAR, send_time TIMESTAMP, emails_sent BIGINT, hard_bounces BIGINT, soft_bounces BIGINT,
        unsubscribed BIGINT, abuse_reports BIGINT, opens_total BIGINT, unique_opens BIGINT,
        clicks_total BIGINT, unique_clicks BIGINT""",
    "social_posts": """
        tenant_id VARCHAR, platform VARCHAR, account_id VARCHAR, post_id VARCHAR, created_at TIMESTAMP,
        post_type VARCHAR, message VARCHAR, permalink VARCHAR, reach BIGINT, impressions BIGINT,
        likes BIGINT, comments BIGINT, shares BIGINT, saves BIGINT, link_clicks BIGINT""",
    "social_mentions": """
        tenant_id VARCHAR, platform VARCHAR, mention_id VARCHAR, created_at TIMESTAMP, author_handle VARCHAR,
        author_followers BIGINT, text VARCHAR, url VARCHAR, likes BIGINT, reposts BIGINT, language VARCHAR""",
    "social_influencers": """
        tenant_id VARCHAR, platform VARCHAR, influencer_id VARCHAR, handle VARCHAR, display_name VARCHAR,
        followers BIGINT, engagement_rate DOUBLE, avg_reach BIGINT, category VARCHAR, country VARCHAR""",
}

# ---- linkedin_ads, tiktok_ads: empty here, filled by tests/dbt/test_paid_social_models.py ----
RAW_DDL.update(
    {
        "linkedin_ads_creative_stats": """
            tenant_id VARCHAR, account_id VARCHAR, date DATE, campaign_group_id VARCHAR,
            campaign_id VARCHAR, creative_id VARCHAR, currency VARCHAR, cost_in_local_currency DECIMAL(18,2),
            impressions BIGINT, clicks BIGINT, external_website_conversions DOUBLE,
            conversion_value_in_local_currency DECIMAL(18,2)""",
        "linkedin_ads_campaigns": """
            tenant_id VARCHAR, account_id VARCHAR, id VARCHAR, campaign_group_id VARCHAR, name VARCHAR,
            status VARCHAR, daily_budget_amount DECIMAL(18,2), currency VARCHAR""",
        "linkedin_ads_campaign_groups": "tenant_id VARCHAR, account_id VARCHAR, id VARCHAR, name VARCHAR, status VARCHAR",
        "linkedin_ads_creatives": """
            tenant_id VARCHAR, account_id VARCHAR, id VARCHAR, campaign_id VARCHAR, name VARCHAR,
            status VARCHAR, created_at TIMESTAMP""",
        "tiktok_ads_ad_stats": """
            tenant_id VARCHAR, advertiser_id VARCHAR, stat_time_day DATE, campaign_id VARCHAR,
            campaign_name VARCHAR, adgroup_id VARCHAR, adgroup_name VARCHAR, ad_id VARCHAR, ad_name VARCHAR,
            currency VARCHAR, spend DECIMAL(18,2), impressions BIGINT, clicks BIGINT, conversion DOUBLE,
            total_purchase_value DECIMAL(18,2)""",
        "tiktok_ads_campaigns": """
            tenant_id VARCHAR, advertiser_id VARCHAR, campaign_id VARCHAR, campaign_name VARCHAR,
            operation_status VARCHAR, objective_type VARCHAR""",
        "tiktok_ads_adgroups": """
            tenant_id VARCHAR, advertiser_id VARCHAR, adgroup_id VARCHAR, campaign_id VARCHAR,
            adgroup_name VARCHAR, operation_status VARCHAR, budget DECIMAL(18,2), budget_mode VARCHAR""",
        "tiktok_ads_ads": """
            tenant_id VARCHAR, advertiser_id VARCHAR, ad_id VARCHAR, adgroup_id VARCHAR, campaign_id VARCHAR,
            ad_name VARCHAR, operation_status VARCHAR, create_time TIMESTAMP""",
    }
)
# ---- end linkedin_ads, tiktok_ads ----
# ---- budget history (issue 4): empty here; tests/e2e/test_budget_history.py checks it against truth ----
RAW_DDL.update({t: WAREHOUSE_DDL[t] for t in ("meta_ads_budget_changes", "google_ads_budget_changes")})

# Rows as SQL value tuples, in the DDL column order (metadata columns are appended).
RAW_ROWS: dict[str, list[str]] = {
    "meta_ads_insights": [
        # northwind (USD): one ad on 03-01, two on 03-02 (the day Google also spends)
        "('northwind','1001','2026-03-01','2001','NW Prospecting','3001','NW Lookalike','4001','NW Video A','USD',10.50,1000,20,2,80.00,'[]')",
        "('northwind','1001','2026-03-02','2001','NW Prospecting','3001','NW Lookalike','4001','NW Video A','USD',12.25,1200,25,1,45.00,'[]')",
        "('northwind','1001','2026-03-02','2001','NW Prospecting','3001','NW Lookalike','4002','NW Carousel','USD',3.10,300,4,0,0.00,'[]')",
        # bellavista (EUR)
        "('bellavista','1002','2026-03-02','2002','BV Awareness','3002','BV Broad','4003','BV Reel','EUR',50.00,5000,60,3,150.00,'[]')",
    ],
    "meta_ads_campaigns": [
        "('northwind','1001','2001','NW Prospecting (old name)','PAUSED','OUTCOME_SALES','2026-03-01')",
        "('northwind','1001','2001','NW Prospecting','ACTIVE','OUTCOME_SALES','2026-03-02')",
        "('bellavista','1002','2002','BV Awareness','ACTIVE','OUTCOME_AWARENESS','2026-03-02')",
    ],
    "meta_ads_adsets": [
        "('northwind','1001','3001','2001','NW Lookalike','ACTIVE',2000,'COST_CAP',1500)",
        "('northwind','1001','3005','2001','NW Retargeting','ACTIVE',1000,'COST_CAP',1800)",
        "('bellavista','1002','3002','2002','BV Broad','ACTIVE',5000,'LOWEST_COST_WITHOUT_CAP',NULL)",
    ],
    "meta_ads_ads": [
        "('northwind','1001','4001','3001','2001','NW Video A','ACTIVE','2026-02-01 09:00:00')",
        "('northwind','1001','4002','3001','2001','NW Carousel','ACTIVE','2026-02-01 09:00:00')",
        "('bellavista','1002','4003','3002','2002','BV Reel','ACTIVE','2026-02-15 09:00:00')",
    ],
    "google_ads_ad_stats": [
        # 1234500 micros = 1.2345 -> 1.23 in the marts
        "('northwind','5001','2026-03-02','6001','NW Search','7001','NW Brand','8001','USD',1234500,900,10,1.5,80.0)",
        "('northwind','5001','2026-03-03','6001','NW Search','7001','NW Brand','8001','USD',20000000,1000,12,0.5,30.0)",
        "('bellavista','5002','2026-03-02','6002','BV Search','7002','BV Generic','8002','EUR',20000000,800,8,1.0,50.0)",
    ],
    "google_ads_campaigns": [
        "('northwind','5001','6001','NW Search','ENABLED','9001',25000000,12340000)",
        "('bellavista','5002','6002','BV Search','ENABLED','9002',10000000,NULL)",
    ],
    "google_ads_ad_groups": [
        "('northwind','5001','6001','7001','NW Brand','ENABLED')",
        "('bellavista','5002','6002','7002','BV Generic','ENABLED')",
    ],
    "google_ads_ads": [
        "('northwind','5001','6001','7001','8001','NW RSA 1','ENABLED')",
        "('bellavista','5002','6002','7002','8002','BV RSA 1','ENABLED')",
    ],
    "hubspot_contacts": [
        "('northwind','c1','a@x.test','Ann','A','customer','a1','2026-02-20 10:05:00','2026-03-02 15:00:00',"
        "'2026-02-20 10:05:00',NULL,NULL,NULL,'2026-03-02 15:00:00',false,true,'2026-02-20 10:05:00',NULL)",
        "('northwind','c2','b@x.test','Bob','B','customer','a2','2026-02-25 10:00:00','2026-03-03 03:00:00',"
        "'2026-02-25 10:00:00',NULL,NULL,NULL,NULL,false,false,'2026-02-25 10:00:00','2026-03-01 08:00:00')",
        "('northwind','c3','c@x.test','Cy','C','customer','a3','2026-02-25 10:00:00','2026-03-01 10:00:00',"
        "NULL,NULL,NULL,NULL,NULL,false,NULL,NULL,NULL)",
        "('northwind','c6','d@x.test','Di','D','customer','a6','2026-01-20 10:00:00','2026-03-03 12:00:00',"
        "NULL,NULL,NULL,NULL,NULL,false,false,NULL,NULL)",
        "('bellavista','c4','e@x.test','Eva','E','customer','b1','2026-03-01 23:31:00','2026-03-02 00:30:00',"
        "NULL,NULL,NULL,NULL,'2026-03-02 00:30:00',false,true,'2026-03-01 23:31:00',NULL)",
    ],
    "hubspot_deals": [
        # d1: last session before 15:00 UTC is google/cpc at 14:00 -> google_ads, local 03-02
        "('northwind','d1','c1','Ann order',100.00,'closedwon','default','2026-02-28 10:00:00','2026-03-02 16:00:00','2026-03-02 16:00:00',false)",
        # d2: no touchpoints -> direct; 03:00 UTC on 03-03 is 22:00 on 03-02 in New York
        "('northwind','d2','c2','Bob order',50.00,'closedwon','default','2026-02-28 10:00:00','2026-03-03 03:00:00','2026-03-03 03:00:00',false)",
        # d3: archived -> excluded everywhere
        "('northwind','d3','c3','Cy order',999.00,'closedwon','default','2026-02-28 10:00:00','2026-03-02 12:00:00','2026-03-04 12:00:00',true)",
        # d4: lost -> not a conversion
        "('northwind','d4','c1','Ann upsell',500.00,'closedlost','default','2026-02-28 10:00:00','2026-03-02 12:00:00','2026-03-02 12:00:00',false)",
        # d6: its only touch is 42 days old (outside the 30-day lookback) -> direct on 03-03
        "('northwind','d6','c6','Di order',30.00,'closedwon','default','2026-02-28 10:00:00','2026-03-03 12:00:00','2026-03-03 12:00:00',false)",
        # d5: EUR tenant; instagram/cpc session 1 h before -> meta, Berlin-local 03-02
        "('bellavista','d5','c4','Eva order',200.00,'closedwon','default','2026-03-01 23:40:00','2026-03-02 01:00:00','2026-03-02 01:00:00',false)",
    ],
    "touchpoints": [
        "('northwind','t1','a1','2026-02-20 10:00:00','session','facebook','paid_social','nw_pro','/')",
        "('northwind','t2','a1','2026-03-02 14:00:00','session','google','cpc','nw_search','/tents')",
        "('northwind','t3','a1','2026-03-02 14:30:00','lead',NULL,NULL,NULL,'/signup')",
        "('northwind','t4','a1','2026-03-02 16:00:00','session','newsletter','email','march','/')",
        "('northwind','t6','a6','2026-01-20 10:00:00','session','fb','cpc','nw_pro','/')",
        "('northwind','t7','a3','2026-03-01 10:00:00','session','google','cpc','nw_search','/')",
        "('bellavista','t5','b1','2026-03-01 23:30:00','session','Instagram','CPC','bv_aw','/')",
    ],
    "fx_rates": [
        "('2026-03-01','USD',1.0)",
        "('2026-03-01','EUR',1.10)",
        # no EUR rate on 03-02: filled forward from 03-01
        "('2026-03-03','EUR',1.20)",
    ],
    # ---- owned media (mailchimp, social) ----
    "mailchimp_email_reports": [
        "('northwind','abc123','a1b2c3d4e5','NW Newsletter 2026-03-02 - Tents','regular','l1','2026-03-02 15:00:00',"
        "1000,3,5,2,0,600,400,90,60)",
        "('northwind','abc123','a1b2c3d4e6','NW Automation - Welcome','automation','l1','2026-01-01 13:00:00',"
        "250,0,1,0,0,200,150,40,30)",
    ],
    "social_posts": [
        "('northwind','instagram','1784','17900001','2026-03-02 17:00:00','CAROUSEL','New tents','https://i/p/x/',"
        "5000,6500,220,9,4,30,3)",
    ],
    "social_mentions": [
        "('bellavista','tiktok','18100001','2026-03-02 09:00:00','ana.k1',200,'Liebe mein Sofa','https://t/1',"
        "12,1,'DE')",
    ],
    "social_influencers": [
        "('northwind','instagram','51000001','emma.hikes','Emma Hikes',25000,0.041,6000,'Hiking','us')",
    ],
}


def build_raw_warehouse(path: Path) -> None:
    """Create the raw schema with the fixture rows (load metadata filled in)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists raw")
        for table, columns in RAW_DDL.items():
            con.execute(f"create table raw.{table} ({columns}, {_META})")
            rows = RAW_ROWS.get(table, [])
            if rows:
                meta = "now()::timestamp, 'fixture-run', '2026-03-02', 'landing/fixture.json'"
                values = ",\n".join(f"{row[:-1]}, {meta})" for row in rows)
                con.execute(f"insert into raw.{table} values {values}")
    finally:
        con.close()


@dataclass
class DbtRun:
    result: dbtRunnerResult
    seconds: float

    def statuses(self) -> dict[str, str]:
        return {r.node.unique_id: str(r.status) for r in self.result.result.results}


def invoke_dbt(args: list[str], warehouse: Path, workdir: Path) -> DbtRun:
    """Run one dbt command in-process against `warehouse`, writing target/ and logs/ under workdir."""
    previous = os.environ.get("MOS_WAREHOUSE")
    os.environ["MOS_WAREHOUSE"] = str(warehouse)
    try:
        started = time.perf_counter()
        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(workdir / "target"),
                "--log-path",
                str(workdir / "logs"),
                "--no-send-anonymous-usage-stats",
                "--no-version-check",
                "--no-use-colors",
            ]
        )
        return DbtRun(result=result, seconds=time.perf_counter() - started)
    finally:
        _release_dbt_duckdb()
        if previous is None:
            os.environ.pop("MOS_WAREHOUSE", None)
        else:
            os.environ["MOS_WAREHOUSE"] = previous


def _release_dbt_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an in-process run.

    dbt-duckdb caches one environment (and its DuckDB instance) per process; while it lives, this
    process cannot open the same file with another configuration (read-only here). A subprocess
    run (dagster-dbt's default) never meets this.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DbtRun]]:
    workdir = tmp_path_factory.mktemp("dbt")
    warehouse = workdir / "warehouse.duckdb"
    build_raw_warehouse(warehouse)
    run = invoke_dbt(["build"], warehouse, workdir)
    print(f"dbt build on the fixture warehouse: {run.seconds:.1f} s")
    yield warehouse, run


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_build_succeeds_with_every_test_passing(built: tuple[Path, DbtRun]) -> None:
    _, run = built
    statuses = run.statuses()
    bad = {node: status for node, status in statuses.items() if status not in ("success", "pass", "warn")}
    assert run.result.success, bad or run.result.exception
    assert not bad
    # the run really included the unit tests and the reconciliation tests
    assert any(node.startswith("unit_test.marketing_os.stg_google_ads__ad_stats.") for node in statuses)
    assert "test.marketing_os.assert_ad_performance_matches_raw" in statuses
    assert "test.marketing_os.assert_channel_daily_matches_ad_performance" in statuses
    assert "test.marketing_os.assert_attributed_conversions_match_raw_deals" in statuses
    # the fixture has no orphan entities, so nothing even warns
    assert "warn" not in statuses.values()


def test_marts_land_in_their_schemas(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema in ('staging', 'intermediate', 'marts')",
    )
    found = {(schema, name): kind for schema, name, kind in rows}
    for mart in ("fct_ad_performance_daily", "fct_channel_daily", "dim_campaigns", "dim_ads", "dim_tenants"):
        assert found[("marts", mart)] == "BASE TABLE"
    assert found[("staging", "stg_google_ads__ad_stats")] == "VIEW"
    assert ("intermediate", "int_conversions_attributed") in found


def test_ad_performance_spend_to_the_cent(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select tenant_id, date, platform, ad_id, ad_name, currency, spend, spend_usd, clicks "
        "from marts.fct_ad_performance_daily order by tenant_id, date, platform, ad_id",
    )
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    assert rows == [
        ("bellavista", d2, "google_ads", "8002", "BV RSA 1", "EUR", D("20.00"), D("22.00"), 8),
        ("bellavista", d2, "meta", "4003", "BV Reel", "EUR", D("50.00"), D("55.00"), 60),
        ("northwind", d1, "meta", "4001", "NW Video A", "USD", D("10.50"), D("10.50"), 20),
        ("northwind", d2, "google_ads", "8001", "NW RSA 1", "USD", D("1.23"), D("1.23"), 10),
        ("northwind", d2, "meta", "4001", "NW Video A", "USD", D("12.25"), D("12.25"), 25),
        ("northwind", d2, "meta", "4002", "NW Carousel", "USD", D("3.10"), D("3.10"), 4),
        ("northwind", d3, "google_ads", "8001", "NW RSA 1", "USD", D("20.00"), D("20.00"), 12),
    ]


def test_channel_daily_attribution_and_roas(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select tenant_id, date, channel, currency, spend, spend_usd, attributed_conversions, "
        "attributed_revenue, roas, platform_roas "
        "from marts.fct_channel_daily order by tenant_id, date, channel",
    )
    got = {(r[0], r[1], r[2]): r[3:] for r in rows}
    d1, d2, d3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    assert set(got) == {
        ("bellavista", d2, "google_ads"),
        ("bellavista", d2, "meta"),
        ("northwind", d1, "meta"),
        ("northwind", d2, "direct"),
        ("northwind", d2, "google_ads"),
        ("northwind", d2, "meta"),
        ("northwind", d3, "direct"),
        ("northwind", d3, "google_ads"),
    }
    # Meta + Google on the shared day; Google's last-touch deal d1 (100.00) on 1.23 of spend
    currency, spend, spend_usd, conv, revenue, roas, platform_roas = got[("northwind", d2, "google_ads")]
    assert (currency, spend, spend_usd, conv, revenue) == ("USD", D("1.23"), D("1.23"), 1, D("100.00"))
    assert roas == pytest.approx(100 / 1.23)
    assert platform_roas == pytest.approx(80 / 1.23)
    assert got[("northwind", d2, "meta")][:5] == ("USD", D("15.35"), D("15.35"), 0, D("0.00"))
    assert got[("northwind", d2, "meta")][5] == 0.0
    # d2 has no touchpoints -> direct, on the New York date (03:00 UTC on 03-03); no spend -> no roas
    assert got[("northwind", d2, "direct")] == ("USD", D("0.00"), D("0.00"), 1, D("50.00"), None, None)
    # d6's only touch is outside the 30-day lookback -> direct
    assert got[("northwind", d3, "direct")][3:6] == (1, D("30.00"), None)
    # EUR tenant: meta touch 1 h before the deal; USD through the filled-forward 03-01 rate
    currency, spend, spend_usd, conv, revenue, roas, _ = got[("bellavista", d2, "meta")]
    assert (currency, spend, spend_usd, conv, revenue) == ("EUR", D("50.00"), D("55.00"), 1, D("200.00"))
    assert roas == pytest.approx(4.0)
    # archived (999.00) and lost (500.00) deals are nowhere
    total = query(
        warehouse, "select sum(attributed_revenue), sum(attributed_conversions) from marts.fct_channel_daily"
    )
    assert total == [(D("380.00"), 4)]


def test_last_touch_details(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select tenant_id, deal_id, channel, touch_event_id, conversion_date "
        "from intermediate.int_conversions_attributed order by tenant_id, deal_id",
    )
    assert rows == [
        ("bellavista", "d5", "meta", "t5", date(2026, 3, 2)),
        ("northwind", "d1", "google_ads", "t2", date(2026, 3, 2)),
        ("northwind", "d2", "direct", None, date(2026, 3, 2)),
        ("northwind", "d6", "direct", None, date(2026, 3, 3)),
    ]


def test_dimensions(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    campaigns = query(
        warehouse,
        "select tenant_id, platform, campaign_id, name, status, currency, target_cpa, daily_budget "
        "from marts.dim_campaigns order by tenant_id, platform, campaign_id",
    )
    assert campaigns == [
        ("bellavista", "google_ads", "6002", "BV Search", "ENABLED", "EUR", None, D("10.00")),
        ("bellavista", "meta", "2002", "BV Awareness", "ACTIVE", "EUR", None, D("50.00")),
        ("northwind", "google_ads", "6001", "NW Search", "ENABLED", "USD", D("12.34"), D("25.00")),
        # latest snapshot; cost caps 15.00 and 18.00 -> the max; budgets 20.00 + 10.00
        ("northwind", "meta", "2001", "NW Prospecting", "ACTIVE", "USD", D("18.00"), D("30.00")),
    ]
    assert query(warehouse, "select count(*) from marts.dim_ads") == [(5,)]
    assert query(warehouse, "select tenant_id, currency, timezone from marts.dim_tenants order by 1") == [
        ("bellavista", "EUR", "Europe/Berlin"),
        ("northwind", "USD", "America/New_York"),
    ]


def test_reconciliation_tests_catch_a_tampered_mart(built: tuple[Path, DbtRun], tmp_path: Path) -> None:
    warehouse, _ = built
    tampered = tmp_path / "tampered.duckdb"
    shutil.copy(warehouse, tampered)
    con = duckdb.connect(str(tampered))
    try:
        # one cent too much on one ad-day: within no rounding tolerance (Meta spend is exact)
        con.execute(
            "update marts.fct_ad_performance_daily set spend = spend + 0.01 "
            "where tenant_id = 'northwind' and ad_id = '4001' and date = '2026-03-01'"
        )
    finally:
        con.close()
    run = invoke_dbt(
        ["test", "--select", "assert_ad_performance_matches_raw assert_channel_daily_matches_ad_performance"],
        tampered,
        tmp_path,
    )
    assert not run.result.success
    statuses = run.statuses()
    assert statuses["test.marketing_os.assert_ad_performance_matches_raw"] == "fail"
    assert statuses["test.marketing_os.assert_channel_daily_matches_ad_performance"] == "fail"
    failures = {r.node.name: r.failures for r in run.result.result.results}
    assert failures == {
        "assert_ad_performance_matches_raw": 1,
        "assert_channel_daily_matches_ad_performance": 1,
    }


def test_primary_key_tests_catch_null_and_duplicate_keys(built: tuple[Path, DbtRun], tmp_path: Path) -> None:
    """The grain tests stand in for `unique` + per-column `not_null`: both kinds of breakage fail them."""
    warehouse, _ = built
    tampered = tmp_path / "tampered.duckdb"
    shutil.copy(warehouse, tampered)
    con = duckdb.connect(str(tampered))
    try:
        # a duplicated channel-day, and a deal whose key lost its tenant
        con.execute("insert into marts.fct_channel_daily select * from marts.fct_channel_daily limit 1")
        con.execute(
            "update intermediate.int_conversions_attributed set tenant_id = null where deal_id = 'd2'"
        )
    finally:
        con.close()
    run = invoke_dbt(
        [
            "test",
            "--select",
            "fct_channel_daily,test_name:primary_key int_conversions_attributed,test_name:primary_key",
        ],
        tampered,
        tmp_path,
    )
    assert not run.result.success
    failures = {r.node.attached_node: (str(r.status), r.failures) for r in run.result.result.results}
    assert failures == {
        "model.marketing_os.fct_channel_daily": ("fail", 1),
        "model.marketing_os.int_conversions_attributed": ("fail", 1),
    }


def test_every_grain_has_a_primary_key_test(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    manifest = json.loads((warehouse.parent / "target" / "manifest.json").read_text())
    with_grain = {
        node["attached_node"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and (node.get("test_metadata") or {}).get("name") == "primary_key"
    }
    models_and_seeds = {
        uid for uid, node in manifest["nodes"].items() if node["resource_type"] in ("model", "seed")
    }
    assert models_and_seeds - with_grain == set()


def test_singular_tests_with_several_parents_name_their_dagster_asset(built: tuple[Path, DbtRun]) -> None:
    """dagster-dbt turns a test into an asset check only if it knows the asset: a generic test's
    model, a singular test's only parent, else `meta.dagster.ref`."""
    warehouse, _ = built
    manifest = json.loads((warehouse.parent / "target" / "manifest.json").read_text())
    attached = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node"):
            continue
        parents = set(node["depends_on"]["nodes"])
        if len(parents) == 1:
            continue
        ref = node["config"]["meta"]["dagster"]["ref"]["name"]
        assert f"model.marketing_os.{ref}" in parents, node["name"]
        attached[node["name"]] = ref
    assert attached == {
        "assert_ad_performance_matches_raw": "fct_ad_performance_daily",
        "assert_ad_currency_is_tenant_currency": "fct_ad_performance_daily",
        "assert_channel_daily_matches_ad_performance": "fct_channel_daily",
        "assert_attributed_conversions_match_raw_deals": "fct_channel_daily",
        "assert_attribution_path_counts_balance": "fct_attribution_transitions",
        "assert_last_touch_models_agree": "fct_attribution_rule_based",
        "assert_rule_based_attribution_matches_conversions": "fct_attribution_rule_based",
    }


def test_owned_media_staging(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    reports = query(
        warehouse,
        "select email_campaign_id, campaign_type, emails_sent, unique_clicks, sent_at "
        "from staging.stg_mailchimp__email_reports order by 1",
    )
    assert [(r[0], r[1], r[2], r[3]) for r in reports] == [
        ("a1b2c3d4e5", "regular", 1000, 60),
        ("a1b2c3d4e6", "automation", 250, 30),
    ]
    assert str(reports[0][4]) == "2026-03-02 15:00:00"
    assert query(warehouse, "select post_type, reach, link_clicks from staging.stg_social__posts") == [
        ("carousel", 5000, 3)
    ]
    assert query(warehouse, "select language, mention_text from staging.stg_social__mentions") == [
        ("de", "Liebe mein Sofa")
    ]
    assert query(
        warehouse, "select category, country, engagement_rate from staging.stg_social__influencers"
    ) == [("hiking", "US", 0.041)]


def test_owned_media_daily_volume(built: tuple[Path, DbtRun]) -> None:
    """marts.fct_owned_media_daily: the newsletter's delivered emails (1000 - 3 - 5) on its New York
    send day, the automation's 249 delivered spread over the 61 days from its start (2026-01-01) to the
    tenant's last owned-media day (2026-03-02), the post's reach on its local day."""
    warehouse, _ = built
    rows = query(
        warehouse,
        "select date, channel, volume, items from marts.fct_owned_media_daily "
        "where tenant_id = 'northwind' order by date, channel",
    )
    email = [r for r in rows if r[1] == "email"]
    assert len(email) == 61 and str(email[0][0]) == "2026-01-01" and str(email[-1][0]) == "2026-03-02"
    assert email[0][2] == pytest.approx(249 / 61)
    assert email[-1][2] == pytest.approx(992 + 249 / 61) and email[-1][3] == 1
    assert sum(r[2] for r in email) == pytest.approx(992 + 249)
    assert [(str(r[0]), r[2], r[3]) for r in rows if r[1] == "organic_social"] == [("2026-03-02", 5000.0, 1)]


def test_contact_consent_reaches_staging(built: tuple[Path, DbtRun]) -> None:
    """raw.hubspot_contacts consent -> stg_hubspot__contacts: opted in, opted out (with both dates),
    unknown consent and never opted in (both no consent)."""
    path, _ = built
    rows = query(
        path,
        "select contact_id, has_marketing_opt_in, marketing_opted_in_at, marketing_opted_out_at "
        "from staging.stg_hubspot__contacts order by contact_id",
    )
    consent = {r[0]: (r[1], r[2] is not None, r[3] is not None) for r in rows}
    assert consent == {
        "c1": (True, True, False),
        "c2": (False, True, True),
        "c3": (False, False, False),
        "c4": (True, True, False),
        "c6": (False, False, False),
    }
