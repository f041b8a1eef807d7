"""The file-drop staging models and the imported-report rule of int_ad_performance_unioned, built by dbt.

The hand-written warehouse of test_dbt_project.py plus drops whose right answers are known:
- a LinkedIn export for northwind (no LinkedIn API there): counts, from its latest drop (restated);
- a "linkedin" export for bellavista whose campaign id is its API-loaded Meta campaign that day, and
  a "meta" export for northwind on a day Meta's API loaded: neither counts (no double count);
- offline conversions with an order re-dropped, erasure requests, a lift-test read-out re-issued.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.dbt.test_dbt_project import DbtRun, build_raw_warehouse, invoke_dbt, query

D = Decimal
_COLS = "(tenant_id, platform, account_id, date, campaign_id, campaign_name, ad_group_id, ad_group_name, ad_id, ad_name, currency, spend, impressions, clicks, conversions, conversion_value, mapping, _loaded_at, _run_id, _partition, _source)"
IMPORTED = [
    # northwind LinkedIn creative 'L9' on 03-02: dropped on 03-07 (spend 7.00), restated on 03-14 (7.50)
    "('northwind','linkedin','501','2026-03-02','L1','NW LI Group','L2','NW LI Campaign','L9',NULL,'USD',7.00,700,7,1,20.00,'li_us',now(),'r','2026-03-07','inbox/a.csv')",
    "('northwind','linkedin','501','2026-03-02','L1','NW LI Group','L2','NW LI Campaign','L9',NULL,'USD',7.50,750,8,1,20.00,'li_us',now(),'r','2026-03-14','inbox/b.csv')",
    # a campaign-level row (no ad group, no ad): the campaign stands in as the ad
    "('northwind','linkedin','501','2026-03-03','L3','NW LI Other',NULL,NULL,NULL,NULL,'USD',1.25,100,1,0,0.00,'li_us',now(),'r','2026-03-07','inbox/a.csv')",
    # bellavista: declared linkedin, but campaign 2002 is the API-loaded Meta campaign of 03-02
    "('bellavista','linkedin','1002','2026-03-02','2002','BV Awareness','3002','BV Broad','4003',NULL,'EUR',50.00,5000,60,3,150.00,'li_de',now(),'r','2026-03-07','inbox/c.csv')",
    # northwind: a Meta export on a day Meta's API loaded
    "('northwind','meta','1001','2026-03-01','2999','NW other','3999',NULL,'4999',NULL,'USD',99.00,9,1,0,0.00,'meta_csv',now(),'r','2026-03-07','inbox/d.csv')",
]
OFFLINE = [
    "('northwind','o1','"
    + "a" * 64
    + "','c1','2026-03-02 12:00:00',40.00,'USD','store',now(),'r','2026-03-07','x')",
    "('northwind','o1','"
    + "a" * 64
    + "','c1','2026-03-02 12:00:00',45.00,'USD','STORE',now(),'r','2026-03-14','x')",
    "('northwind','o2',NULL,NULL,'2026-03-03 12:00:00',10.00,'usd','phone',now(),'r','2026-03-07','x')",
]
LIFT_TESTS = [
    # a read-out re-issued a week later (corrected analysis): the later one stands; loaded before the
    # spend-scale columns existed (NULL): a holdout, 1.0 / 0.0
    "('northwind','LT-1','Meta','geo','revenue','2026-02-01','2026-02-28',1500.0,150.0,null,null,"
    "now(),'r','2026-03-07','x')",
    "('northwind','LT-1','meta','geo','revenue','2026-02-01','2026-02-28',1450.0,140.0,null,null,"
    "now(),'r','2026-03-14','x')",
    "('northwind','LT-1','meta','geo','conversions','2026-02-01','2026-02-28',14.5,1.4,null,null,"
    "now(),'r','2026-03-07','x')",
    # a "-50 %" budget-scaling test
    "('northwind','ST-1','meta','scale','revenue','2026-01-05','2026-01-25',310.0,120.0,1.0,0.5,"
    "now(),'r','2026-02-01','x')",
]
ERASURES = [
    "('northwind','GDPR-000001','" + "b" * 64 + "','c9','2026-03-03 08:00:00',now(),'r','2026-03-07','x')"
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DbtRun]]:
    workdir = tmp_path_factory.mktemp("dbt_files")
    warehouse = workdir / "warehouse.duckdb"
    build_raw_warehouse(warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"insert into raw.imported_ad_reports {_COLS} values " + ",".join(IMPORTED))
        con.execute("insert into raw.offline_conversions values " + ",".join(OFFLINE))
        con.execute("insert into raw.erasure_requests values " + ",".join(ERASURES))
        con.execute("insert into raw.lift_tests values " + ",".join(LIFT_TESTS))
    finally:
        con.close()
    run = invoke_dbt(["build"], warehouse, workdir)
    yield warehouse, run


def test_build_passes_with_reconciliation(built: tuple[Path, DbtRun]) -> None:
    _, run = built
    statuses = run.statuses()
    bad = {node: status for node, status in statuses.items() if status not in ("success", "pass", "warn")}
    assert run.result.success and not bad, bad
    assert statuses["test.marketing_os.assert_ad_performance_matches_raw"] == "pass"
    assert statuses["test.marketing_os.assert_channel_daily_matches_ad_performance"] == "pass"
    # the only warnings: the imported LinkedIn campaigns are not in the entity dimensions
    warned = [node for node, status in statuses.items() if status == "warn"]
    assert warned and all("relationships_combination_fct_ad_performance_daily" in n for n in warned), warned


def test_imported_reports_count_once_and_never_twice(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select tenant_id, date, platform, campaign_id, ad_id, spend, impressions, clicks "
        "from marts.fct_ad_performance_daily where platform = 'linkedin' or ad_id = '4999' "
        "or (tenant_id = 'bellavista' and platform <> 'google_ads') order by all",
    )
    assert rows == [
        ("bellavista", date(2026, 3, 2), "meta", "2002", "4003", D("50.00"), 5000, 60),
        ("northwind", date(2026, 3, 2), "linkedin", "L1", "L9", D("7.50"), 750, 8),
        ("northwind", date(2026, 3, 3), "linkedin", "L3", "L3", D("1.25"), 100, 1),
    ]
    channel = query(
        warehouse,
        "select date, spend from marts.fct_channel_daily where tenant_id = 'northwind' "
        "and channel = 'linkedin' order by date",
    )
    assert channel == [(date(2026, 3, 2), D("7.50")), (date(2026, 3, 3), D("1.25"))]


def test_offline_conversions_and_erasures_stage_one_row_per_key(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    offline = query(
        warehouse,
        "select order_id, revenue, currency, location, dropped_on from staging.stg_files__offline_conversions "
        "order by order_id",
    )
    assert offline == [
        ("o1", D("45.00"), "USD", "store", date(2026, 3, 14)),
        ("o2", D("10.00"), "USD", "phone", date(2026, 3, 7)),
    ]
    erasures = query(warehouse, "select request_id, contact_id from staging.stg_privacy__erasure_requests")
    assert erasures == [("GDPR-000001", "c9")]


def test_lift_tests_stage_one_row_per_test_and_kpi(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select test_id, channel, method, kpi, test_days, incremental, standard_error, "
        "treatment_spend_scale, control_spend_scale, dropped_on "
        "from staging.stg_experiments__lift_tests order by test_id, kpi",
    )
    assert rows == [
        ("LT-1", "meta", "geo", "conversions", 28, 14.5, 1.4, 1.0, 0.0, date(2026, 3, 7)),
        ("LT-1", "meta", "geo", "revenue", 28, 1450.0, 140.0, 1.0, 0.0, date(2026, 3, 14)),
        ("ST-1", "meta", "scale", "revenue", 21, 310.0, 120.0, 1.0, 0.5, date(2026, 2, 1)),
    ]


def test_a_lift_test_with_equal_scales_fails_its_dbt_test(built: tuple[Path, DbtRun], tmp_path: Path) -> None:
    # The staging model is a view: a bad raw row (in a copy of the warehouse) reaches it at once.
    warehouse, _ = built
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(warehouse, copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute(
            "insert into raw.lift_tests values ('northwind','ST-9','meta','scale','revenue','2026-01-05',"
            "'2026-01-25',10.0,120.0,1.0,1.0,now(),'r','2026-02-01','x')"
        )
    finally:
        con.close()
    run = invoke_dbt(["test", "--select", "assert_lift_test_scales_differ"], copy, tmp_path)
    assert run.statuses() == {"test.marketing_os.assert_lift_test_scales_differ": "fail"}
