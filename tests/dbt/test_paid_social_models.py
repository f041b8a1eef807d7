"""LinkedIn and TikTok through dbt: staging, the unions, the marts and the reconciliation tests.

The fixture warehouse of test_dbt_project.py plus a few LinkedIn and TikTok rows (northwind, USD):
`dbt build` passes every test (grain, accepted values, reconciliation), and the marts carry the new
platforms with names joined from the entity lists and budgets rolled up to the campaign.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from tests.dbt.test_dbt_project import build_raw_warehouse, invoke_dbt, query

pytestmark = pytest.mark.xdist_group("dbt")

META = "now()::timestamp, 'fixture-run', '2026-03-02', 'landing/fixture.json'"
ROWS = {
    "linkedin_ads_creative_stats": [
        # costInLocalCurrency came as "7.125000001": the parser rounded it half-even to 7.13 before load
        "('northwind','510000001','2026-03-02','610000001','710000001','1810000001','USD',7.13,700,9,1,40.00)",
        "('northwind','510000001','2026-03-03','610000001','710000001','1810000001','USD',2.00,200,1,0,0.00)",
    ],
    "linkedin_ads_campaign_groups": ["('northwind','510000001','610000001','NW | B2B Prospecting','ACTIVE')"],
    "linkedin_ads_campaigns": [
        "('northwind','510000001','710000001','610000001','Job titles - IT','ACTIVE',25.00,'USD')",
        "('northwind','510000001','710000002','610000001','Job titles - Ops','PAUSED',15.50,'USD')",
    ],
    "linkedin_ads_creatives": [
        "('northwind','510000001','1810000001','710000001','Single image v1','ACTIVE','2026-02-01 00:00:00')",
    ],
    "tiktok_ads_ad_stats": [
        "('northwind','7001000000000000001','2026-03-02','7002000000000000001','NW | TikTok Spark',"
        "'7003000000000000001','Broad 18-34','7004000000000000001','Spark 15s','USD',5.55,900,30,2,64.10)",
    ],
    "tiktok_ads_campaigns": [
        "('northwind','7001000000000000001','7002000000000000001','NW | TikTok Spark','ENABLE','WEB_CONVERSIONS')",
    ],
    "tiktok_ads_adgroups": [
        "('northwind','7001000000000000001','7003000000000000001','7002000000000000001','Broad 18-34','ENABLE',30.00,'BUDGET_MODE_DAY')",
        "('northwind','7001000000000000001','7003000000000000002','7002000000000000001','Lifetime','DISABLE',500.00,'BUDGET_MODE_TOTAL')",
    ],
    "tiktok_ads_ads": [
        "('northwind','7001000000000000001','7004000000000000001','7003000000000000001','7002000000000000001','Spark 15s','DISABLE','2026-02-10 08:00:00')",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("dbt-paid")
    path = workdir / "warehouse.duckdb"
    build_raw_warehouse(path)
    with duckdb.connect(str(path)) as con:
        for table, rows in ROWS.items():
            values = ",\n".join(f"{row[:-1]}, {META})" for row in rows)
            con.execute(f"insert into raw.{table} values {values}")
    run = invoke_dbt(["build"], path, workdir)
    failed = {k: v for k, v in run.statuses().items() if v not in ("success", "pass")}
    assert run.result.success and not failed, failed
    return path


def test_ad_performance_carries_linkedin_and_tiktok_with_names(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select date, platform, account_id, campaign_id, campaign_name, ad_group_id, ad_group_name, ad_id, "
        "ad_name, spend, spend_usd, clicks, platform_conversions, platform_conversion_value "
        "from marts.fct_ad_performance_daily where platform in ('linkedin', 'tiktok') order by platform, date",
    )
    d2, d3 = date(2026, 3, 2), date(2026, 3, 3)
    assert rows == [
        (d2, "linkedin", "510000001", "610000001", "NW | B2B Prospecting", "710000001", "Job titles - IT",
         "1810000001", "Single image v1", D("7.13"), D("7.13"), 9, 1.0, D("40.00")),
        (d3, "linkedin", "510000001", "610000001", "NW | B2B Prospecting", "710000001", "Job titles - IT",
         "1810000001", "Single image v1", D("2.00"), D("2.00"), 1, 0.0, D("0.00")),
        (d2, "tiktok", "7001000000000000001", "7002000000000000001", "NW | TikTok Spark", "7003000000000000001",
         "Broad 18-34", "7004000000000000001", "Spark 15s", D("5.55"), D("5.55"), 30, 2.0, D("64.10")),
    ]  # fmt: skip


def test_channel_daily_has_a_channel_per_platform(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select channel, spend, impressions, platform_conversion_value from marts.fct_channel_daily "
        "where tenant_id = 'northwind' and date = '2026-03-02' and channel in ('linkedin', 'tiktok') order by 1",
    )
    assert rows == [("linkedin", D("7.13"), 700, D("40.00")), ("tiktok", D("5.55"), 900, D("64.10"))]


def test_dimensions_roll_budgets_up_and_speak_one_status_vocabulary(warehouse: Path) -> None:
    campaigns = query(
        warehouse,
        "select platform, campaign_id, name, status, currency, target_cpa, daily_budget from marts.dim_campaigns "
        "where platform in ('linkedin', 'tiktok') order by platform",
    )
    assert campaigns == [
        # LinkedIn campaigns' budgets 25.00 + 15.50; TikTok: only the BUDGET_MODE_DAY ad group counts
        ("linkedin", "610000001", "NW | B2B Prospecting", "ACTIVE", "USD", None, D("40.50")),
        ("tiktok", "7002000000000000001", "NW | TikTok Spark", "ACTIVE", "USD", None, D("30.00")),
    ]
    ads = query(
        warehouse,
        "select platform, ad_id, campaign_id, ad_group_id, name, status from marts.dim_ads "
        "where platform in ('linkedin', 'tiktok') order by platform",
    )
    assert ads == [
        ("linkedin", "1810000001", "610000001", "710000001", "Single image v1", "ACTIVE"),
        (
            "tiktok",
            "7004000000000000001",
            "7002000000000000001",
            "7003000000000000001",
            "Spark 15s",
            "PAUSED",
        ),
    ]
