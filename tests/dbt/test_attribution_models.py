"""The attribution models (journeys, rule-based credit, Markov and Shapley path counts) on hand-made journeys.

One tenant (New York, after the 2026-03-08 switch to daylight time), three closed-won deals and
four non-converting journeys whose right answers are worked out by hand below:

  d1 (a1, 100.00, 2026-03-10 15:00 UTC): meta 03-01 > direct 03-05 > organic_search 03-08 > direct
     03-10 14:00; a1's google/cpc session of 01-15 is outside the 30-day window -> its own
     non-converting journey.
  d2 (a2, 50.00, closes 2026-03-10 20:00 UTC): no sessions -> one synthetic direct touch.
  d3 (a3, 30.00, 2026-03-09 13:00 UTC): google/cpc an hour before.
  a9: google/cpc, google/cpc again, facebook/paid_social -> google_ads > meta after collapsing.
  a8: direct on 01-01 and 02-15 (45 days apart) -> two non-converting journeys.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.dbt.test_dbt_project import _META, RAW_DDL, DbtRun, invoke_dbt, query

D = Decimal
CONTACT = "('northwind','{id}','{id}@x.test','F','L','customer','{anon}','2026-01-01 00:00:00','2026-03-10 00:00:00',NULL,NULL,NULL,NULL,{customer},false,true,'2026-01-01 00:00:00',NULL)"
DEAL = "('northwind','{id}','{contact}','order',{amount},'closedwon','default','2026-03-01 00:00:00','{close}','{close}',false)"
SESSION = "('northwind','{id}','{anon}','{ts}','session',{source},{medium},NULL,'/')"

ROWS: dict[str, list[str]] = {
    "hubspot_contacts": [
        CONTACT.format(id="c1", anon="a1", customer="'2026-03-10 15:00:00'"),
        CONTACT.format(id="c2", anon="a2", customer="NULL"),
        CONTACT.format(id="c3", anon="a3", customer="'2026-03-09 13:00:00'"),
    ],
    "hubspot_deals": [
        DEAL.format(id="d1", contact="c1", amount="100.00", close="2026-03-10 15:00:00"),
        DEAL.format(id="d2", contact="c2", amount="50.00", close="2026-03-10 20:00:00"),
        DEAL.format(id="d3", contact="c3", amount="30.00", close="2026-03-09 13:00:00"),
    ],
    "touchpoints": [
        SESSION.format(id="t0", anon="a1", ts="2026-01-15 10:00:00", source="'google'", medium="'cpc'"),
        SESSION.format(
            id="t1", anon="a1", ts="2026-03-01 10:00:00", source="'facebook'", medium="'paid_social'"
        ),
        SESSION.format(id="t2", anon="a1", ts="2026-03-05 10:00:00", source="NULL", medium="NULL"),
        SESSION.format(id="t3", anon="a1", ts="2026-03-08 10:00:00", source="'google'", medium="'organic'"),
        SESSION.format(id="t4", anon="a1", ts="2026-03-10 14:00:00", source="'(direct)'", medium="'(none)'"),
        SESSION.format(id="t5", anon="a3", ts="2026-03-09 12:00:00", source="'google'", medium="'cpc'"),
        SESSION.format(id="t6", anon="a9", ts="2026-03-02 10:00:00", source="'google'", medium="'cpc'"),
        SESSION.format(id="t7", anon="a9", ts="2026-03-02 11:00:00", source="'google'", medium="'cpc'"),
        SESSION.format(
            id="t8", anon="a9", ts="2026-03-03 10:00:00", source="'facebook'", medium="'paid_social'"
        ),
        SESSION.format(id="t9", anon="a8", ts="2026-01-01 12:00:00", source="NULL", medium="NULL"),
        SESSION.format(id="t10", anon="a8", ts="2026-02-15 12:00:00", source="NULL", medium="NULL"),
        # a lead event is not a touch
        "('northwind','t11','a1','2026-03-01 10:05:00','lead',NULL,NULL,NULL,'/signup')",
    ],
    "fx_rates": ["('2026-03-01','USD',1.0)"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DbtRun]]:
    workdir = tmp_path_factory.mktemp("dbt_attribution")
    warehouse = workdir / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema raw")
        for table, columns in RAW_DDL.items():
            con.execute(f"create table raw.{table} ({columns}, {_META})")
            meta = "now()::timestamp, 'fixture-run', '2026-03-10', 'landing/fixture.json'"
            for row in ROWS.get(table, []):
                con.execute(f"insert into raw.{table} values {row[:-1]}, {meta})")
    finally:
        con.close()
    yield warehouse, invoke_dbt(["build"], warehouse, workdir)


def test_build_passes_with_the_attribution_tests(built: tuple[Path, DbtRun]) -> None:
    _, run = built
    statuses = run.statuses()
    bad = {node: s for node, s in statuses.items() if s not in ("success", "pass")}
    assert run.result.success and not bad, bad
    for check in (
        "assert_rule_based_attribution_matches_conversions",
        "assert_last_touch_models_agree",
        "assert_attribution_path_counts_balance",
    ):
        assert f"test.marketing_os.{check}" in statuses


def test_conversion_paths_and_nonconverting_journeys(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    assert query(
        warehouse,
        "select deal_id, channel_path, n_touches, n_sessions, conversion_date, revenue "
        "from intermediate.int_conversion_paths order by deal_id",
    ) == [
        ("d1", "meta > direct > organic_search > direct", 4, 4, date(2026, 3, 10), D("100.00")),
        ("d2", "direct", 1, 0, date(2026, 3, 10), D("50.00")),
        ("d3", "google_ads", 1, 1, date(2026, 3, 9), D("30.00")),
    ]
    assert query(
        warehouse,
        "select journey_id, channel_path, journey_date from intermediate.int_nonconverting_journeys order by 1",
    ) == [
        ("visitor:a1:0", "google_ads", date(2026, 1, 15)),
        ("visitor:a8:0", "direct", date(2026, 1, 1)),
        ("visitor:a8:1", "direct", date(2026, 2, 15)),
        ("visitor:a9:0", "google_ads > google_ads > meta", date(2026, 3, 3)),
    ]


def test_rule_based_credit(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    rows = query(
        warehouse,
        "select model, channel, conversions, revenue from marts.fct_attribution_rule_based "
        "where date = '2026-03-10' order by model, channel",
    )
    got = {(m, c): (conv, rev) for m, c, conv, rev in rows}
    expected = {
        ("first_touch", "meta"): (1.0, D("100.00")),
        ("first_touch", "direct"): (1.0, D("50.00")),
        ("last_touch", "direct"): (2.0, D("150.00")),
        ("last_non_direct", "organic_search"): (1.0, D("100.00")),
        ("last_non_direct", "direct"): (1.0, D("50.00")),  # d2 has nothing but direct
        ("linear", "meta"): (0.25, D("25.00")),
        ("linear", "direct"): (1.5, D("100.00")),
        ("linear", "organic_search"): (0.25, D("25.00")),
        ("position_based", "meta"): (0.4, D("40.00")),
        ("position_based", "direct"): (1.5, D("100.00")),  # 0.1 + 0.4 of d1, all of d2
        ("position_based", "organic_search"): (0.1, D("10.00")),
    }
    for key, (conv, revenue) in expected.items():
        assert got[key][0] == pytest.approx(conv), key
        assert got[key][1] == revenue, key
    # time decay, half-life 7 days: ages 9d5h, 5d5h, 2d5h and 1 h before the conversion
    ages = [9 + 5 / 24, 5 + 5 / 24, 2 + 5 / 24, 1 / 24]
    weights = [0.5 ** (a / 7) for a in ages]
    share = [w / sum(weights) for w in weights]
    assert got[("time_decay", "meta")][0] == pytest.approx(share[0])
    assert got[("time_decay", "organic_search")][0] == pytest.approx(share[2])
    assert got[("time_decay", "direct")][0] == pytest.approx(share[1] + share[3] + 1)
    assert {m for m, _ in got} == {
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "time_decay",
        "position_based",
    }


def test_markov_transitions_and_coalitions(built: tuple[Path, DbtRun]) -> None:
    warehouse, _ = built
    periods = query(
        warehouse, "select period, period_start, period_end from intermediate.int_attribution_periods"
    )
    # under 90 days of journeys: the recent period starts at the first journey
    assert sorted(periods) == [
        ("full_window", date(2026, 1, 1), date(2026, 3, 10)),
        ("last_90_days", date(2026, 1, 1), date(2026, 3, 10)),
    ]
    first_order = query(
        warehouse,
        "select from_state, to_state, transitions from marts.fct_attribution_transitions "
        "where period = 'full_window' and markov_order = 1",
    )
    assert dict(((f, t), n) for f, t, n in first_order) == {
        ("(start)", "meta"): 1,
        ("(start)", "direct"): 3,
        ("(start)", "google_ads"): 3,
        ("meta", "direct"): 1,
        ("direct", "organic_search"): 1,
        ("organic_search", "direct"): 1,
        ("direct", "(conversion)"): 2,
        ("google_ads", "(conversion)"): 1,
        ("google_ads", "meta"): 1,  # the repeated google_ads click is collapsed
        ("meta", "(null)"): 1,
        ("google_ads", "(null)"): 1,
        ("direct", "(null)"): 2,
    }
    third_order = query(
        warehouse,
        "select from_state, to_state from marts.fct_attribution_transitions "
        "where period = 'full_window' and markov_order = 3 and from_state like 'meta>%'",
    )
    assert sorted(third_order) == [
        ("meta>direct", "meta>direct>organic_search"),
        ("meta>direct>organic_search", "direct>organic_search>direct"),  # the oldest channel drops out
    ]
    assert query(
        warehouse,
        "select to_state from marts.fct_attribution_transitions where markov_order = 3 "
        "and from_state = 'direct>organic_search>direct' and period = 'full_window'",
    ) == [("(conversion)",)]
    coalitions = query(
        warehouse,
        "select channel_set, n_channels, journeys, conversions, revenue from marts.fct_attribution_coalitions "
        "where period = 'full_window' order by channel_set",
    )
    assert coalitions == [
        ("direct", 1, 3, 1, D("50.00")),
        ("direct,meta,organic_search", 3, 1, 1, D("100.00")),
        ("google_ads", 1, 2, 1, D("30.00")),
        ("google_ads,meta", 2, 1, 0, D("0.00")),
    ]


def test_reconciliation_catches_a_tampered_credit(built: tuple[Path, DbtRun], tmp_path: Path) -> None:
    warehouse, _ = built
    tampered = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, tampered)
    con = duckdb.connect(str(tampered))
    try:
        con.execute(
            "update marts.fct_attribution_rule_based set conversions = conversions + 0.01 "
            "where model = 'linear' and channel = 'meta'"
        )
    finally:
        con.close()
    run = invoke_dbt(
        ["test", "--select", "assert_rule_based_attribution_matches_conversions"], tampered, tmp_path
    )
    assert not run.result.success
    assert run.statuses()["test.marketing_os.assert_rule_based_attribution_matches_conversions"] == "fail"
