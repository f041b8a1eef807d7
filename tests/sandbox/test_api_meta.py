"""Fake Meta Graph API: insights paging and units, entities, writes, errors."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import polars as pl
import pytest

from connectors.sandbox.api import BASE_URLS, sandbox_token
from tests.sandbox.api_fixtures import (
    DAYS,
    FINAL,
    META_BV,
    META_NW,
    META_TOKEN,
    FixtureState,
    make_api,
    make_client,
)

BASE = BASE_URLS["meta"]
RANGE = json.dumps({"since": DAYS[0].isoformat(), "until": DAYS[-1].isoformat()})
AD_FIELDS = "account_id,account_currency,campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,spend,impressions,clicks,actions,action_values"


def _pages(client, url, params):
    pages = []
    body = client.get(url, params=params).json()
    pages.append(body)
    while "next" in body.get("paging", {}):
        body = client.get(body["paging"]["next"]).json()
        pages.append(body)
    return pages


def _purchases(row, key="actions"):
    values = [
        a["value"] for a in row.get(key, []) if a["action_type"] == "offsite_conversion.fb_pixel_purchase"
    ]
    return values[0] if values else None


def test_insights_paging_reaches_every_ad_day_once_with_exact_units():
    state = FixtureState()
    client = make_client(make_api(state, limits=FINAL))
    params = {
        "level": "ad",
        "time_increment": "1",
        "time_range": RANGE,
        "fields": AD_FIELDS,
        "limit": "7",
        "access_token": META_TOKEN,
    }
    pages = _pages(client, f"{BASE}/act_{META_NW}/insights", params)
    rows = [row for page in pages for row in page["data"]]
    world = state.world.delivery.filter((pl.col("platform") == "meta") & (pl.col("account_id") == META_NW))

    assert len(pages) == -(-world.height // 7)
    assert all(len(p["data"]) == 7 for p in pages[:-1])
    keys = [(r["ad_id"], r["date_start"]) for r in rows]
    assert len(keys) == len(set(keys)) == world.height
    by_key = {(r["ad_id"], r["date"].isoformat()): r for r in world.to_dicts()}
    for row in rows:
        truth = by_key[(row["ad_id"], row["date_start"])]
        assert row["date_stop"] == row["date_start"]
        assert row["spend"] == f"{truth['spend_micros'] / 1e6:.2f}"
        assert row["impressions"] == str(truth["impressions"]) and row["clicks"] == str(truth["clicks"])
        assert row["account_currency"] == "USD" and row["account_id"] == META_NW
        if truth["platform_conversions"] > 0:
            assert _purchases(row) == str(int(truth["platform_conversions"]))
            assert _purchases(row, "action_values") == f"{truth['platform_conversion_value']:.2f}"
        else:
            assert _purchases(row) is None and "action_values" not in row
    total = sum(Decimal(r["spend"]) for r in rows)
    assert total == Decimal(int(world["spend_micros"].sum())) / 1_000_000


def test_paging_links_are_absolute_same_host_and_cursors_opaque():
    client = make_client(make_api())
    params = {
        "level": "ad",
        "time_increment": "1",
        "time_range": RANGE,
        "fields": "ad_id,spend",
        "limit": "5",
    }
    params["access_token"] = META_TOKEN
    first = client.get(f"{BASE}/act_{META_NW}/insights", params=params).json()
    nxt = first["paging"]["next"]
    assert nxt.startswith(f"{BASE}/act_{META_NW}/insights?")
    after = first["paging"]["cursors"]["after"]
    assert f"after={after}" in nxt and after.isascii() and not after.isdigit()
    base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))  # opaque but well-formed
    second = client.get(nxt).json()
    assert second["paging"]["previous"]
    assert {r["ad_id"] + r["date_start"] for r in first["data"]}.isdisjoint(
        r["ad_id"] + r["date_start"] for r in second["data"]
    )
    bad = client.get(f"{BASE}/act_{META_NW}/insights", params={**params, "after": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100


def test_levels_and_increments_aggregate_the_same_totals():
    state = FixtureState()
    client = make_client(make_api(state))
    common = {
        "time_range": RANGE,
        "fields": "spend,impressions,clicks",
        "limit": "500",
        "access_token": META_TOKEN,
    }
    totals = {}
    for level, increment in (
        ("ad", "1"),
        ("adset", "1"),
        ("campaign", "7"),
        ("account", "all_days"),
        ("campaign", "monthly"),
    ):
        body = client.get(
            f"{BASE}/act_{META_NW}/insights", params={**common, "level": level, "time_increment": increment}
        ).json()
        totals[(level, increment)] = (
            sum(Decimal(r["spend"]) for r in body["data"]),
            sum(int(r["impressions"]) for r in body["data"]),
        )
        if level == "account":
            assert len(body["data"]) == 1
            assert body["data"][0]["date_start"] == DAYS[0].isoformat()
            assert body["data"][0]["date_stop"] == DAYS[-1].isoformat()
        if increment == "7":
            assert {r["date_start"] for r in body["data"]} == {DAYS[0].isoformat(), DAYS[7].isoformat()}
            assert {r["date_stop"] for r in body["data"]} == {DAYS[6].isoformat(), DAYS[13].isoformat()}
    assert len(set(totals.values())) == 1


def test_campaign_level_rows_do_not_carry_ad_fields():
    client = make_client(make_api())
    body = client.get(
        f"{BASE}/act_{META_NW}/insights",
        params={
            "level": "campaign",
            "time_range": RANGE,
            "fields": "campaign_id,ad_id,spend",
            "access_token": META_TOKEN,
        },
    ).json()
    assert body["data"] and all("ad_id" not in r and "campaign_id" in r for r in body["data"])


def test_entities_in_minor_units_with_cost_cap():
    state = FixtureState()
    client = make_client(make_api(state))
    fields = "id,name,status,effective_status,daily_budget,bid_strategy,bid_amount,campaign_id,created_time"
    body = client.get(
        f"{BASE}/act_{META_NW}/adsets", params={"fields": fields, "access_token": META_TOKEN}
    ).json()
    adsets = {a["id"]: a for a in body["data"]}
    assert set(adsets) == {"120001", "120002", "120003"}
    assert adsets["120001"]["daily_budget"] == "3000"  # 30.00 USD
    assert adsets["120001"]["bid_strategy"] == "COST_CAP" and adsets["120001"]["bid_amount"] == 2500
    assert "bid_amount" not in adsets["120003"]
    assert adsets["120003"]["effective_status"] == "CAMPAIGN_PAUSED"
    assert adsets["120001"]["created_time"] == "2025-12-01T00:00:00-0500"

    campaigns = client.get(
        f"{BASE}/act_{META_NW}/campaigns",
        params={"fields": "id,name,status,objective", "limit": "1", "access_token": META_TOKEN},
    ).json()
    assert len(campaigns["data"]) == 1 and "next" in campaigns["paging"]
    ads = client.get(
        f"{BASE}/act_{META_NW}/ads",
        params={
            "fields": "id,adset_id,campaign_id,status,effective_status",
            "limit": "100",
            "access_token": META_TOKEN,
        },
    ).json()
    assert len(ads["data"]) == 6 and "next" not in ads["paging"]
    only_active = client.get(
        f"{BASE}/act_{META_NW}/ads",
        params={"effective_status": '["ACTIVE"]', "limit": "100", "access_token": META_TOKEN},
    ).json()
    assert len(only_active["data"]) == 3


def test_write_status_and_budget_change_the_state_and_read_back():
    state = FixtureState()
    api = make_api(state)
    client = make_client(api)
    r = client.post(f"{BASE}/120001", data={"status": "PAUSED", "access_token": META_TOKEN})
    assert r.status_code == 200 and r.json() == {"success": True}
    r = client.post(
        f"{BASE}/120002", json={"daily_budget": "4550"}, headers={"Authorization": f"Bearer {META_TOKEN}"}
    )
    assert r.json() == {"success": True}

    groups = {g["ad_group_id"]: g for g in state.world.ad_groups.to_dicts()}
    assert groups["120001"]["status"] == "PAUSED"
    assert groups["120002"]["daily_budget"] == pytest.approx(45.50)
    assert [(w.entity_id, w.field, w.value) for w in api.applied_writes] == [
        ("120001", "status", "PAUSED"),
        ("120002", "daily_budget", 45.5),
    ]
    back = client.get(
        f"{BASE}/120002", params={"fields": "id,status,daily_budget", "access_token": META_TOKEN}
    )
    assert back.json() == {"id": "120002", "status": "ACTIVE", "daily_budget": "4550"}
    ad = client.get(
        f"{BASE}/130101", params={"fields": "effective_status", "access_token": META_TOKEN}
    ).json()
    assert ad == {"effective_status": "ADSET_PAUSED"}


@pytest.mark.parametrize(
    ("object_id", "params", "subcode"),
    [
        ("120001", {"daily_budget": "50"}, 1885272),  # below the minimum budget
        ("120001", {"daily_budget": "12.5"}, None),  # not minor units
        ("130101", {"daily_budget": "5000"}, None),  # ads have no budget
        ("110001", {"daily_budget": "5000"}, None),  # campaign without campaign budget
        ("120001", {"status": "DELETED"}, None),
        ("120001", {"name": "renamed"}, None),
        ("120001", {"status": "PAUSED", "execution_options": '["validate_only"]'}, "ok"),
    ],
)
def test_rejected_or_validate_only_writes_change_nothing(object_id, params, subcode):
    state = FixtureState()
    api = make_api(state)
    before = (state.world.ad_groups, state.world.campaigns)
    r = make_client(api).post(f"{BASE}/{object_id}", data={**params, "access_token": META_TOKEN})
    if subcode == "ok":
        assert r.json() == {"success": True}
    else:
        error = r.json()["error"]
        assert r.status_code == 400 and error["code"] == 100 and error["type"] == "OAuthException"
        assert error.get("error_subcode") == subcode and error["fbtrace_id"]
    assert api.applied_writes == [] and state.mutations == []
    assert (state.world.ad_groups, state.world.campaigns) == before


def test_async_report_matches_sync_insights():
    client = make_client(make_api())
    params = {
        "level": "ad",
        "time_increment": "1",
        "time_range": RANGE,
        "fields": "ad_id,spend",
        "limit": "500",
    }
    sync = client.get(f"{BASE}/act_{META_NW}/insights", params={**params, "access_token": META_TOKEN}).json()
    run = client.post(f"{BASE}/act_{META_NW}/insights", data={**params, "access_token": META_TOKEN}).json()
    status = client.get(f"{BASE}/{run['report_run_id']}", params={"access_token": META_TOKEN}).json()
    assert status["async_status"] == "Job Completed" and status["async_percent_completion"] == 100
    rows = client.get(
        f"{BASE}/{run['report_run_id']}/insights", params={"limit": "500", "access_token": META_TOKEN}
    ).json()
    assert rows["data"] == sync["data"]


def test_async_report_can_take_polls():
    from connectors.sandbox.api import SandboxLimits

    client = make_client(make_api(limits=SandboxLimits(meta_async_polls=2)))
    run = client.post(f"{BASE}/act_{META_NW}/insights", data={"access_token": META_TOKEN}).json()
    states = [
        client.get(f"{BASE}/{run['report_run_id']}", params={"access_token": META_TOKEN}).json()[
            "async_status"
        ]
        for _ in range(3)
    ]
    assert states == ["Job Running", "Job Running", "Job Completed"]


def test_errors_use_graph_error_bodies():
    client = make_client(make_api())
    no_token = client.get(f"{BASE}/act_{META_NW}/insights")
    assert no_token.status_code == 400
    assert no_token.json()["error"]["code"] == 190 and no_token.json()["error"]["type"] == "OAuthException"
    unknown = client.get(f"{BASE}/999999", params={"access_token": META_TOKEN}).json()["error"]
    assert (unknown["code"], unknown["error_subcode"]) == (100, 33)
    bad_field = client.get(
        f"{BASE}/act_{META_NW}/insights", params={"fields": "spend,purchases", "access_token": META_TOKEN}
    )
    assert bad_field.status_code == 400 and "fields[1]" in bad_field.json()["error"]["message"]
    bad_level = client.get(
        f"{BASE}/act_{META_NW}/insights", params={"level": "x", "access_token": META_TOKEN}
    )
    assert bad_level.json()["error"]["code"] == 100
    bad_range = client.get(
        f"{BASE}/act_{META_NW}/insights",
        params={"time_range": '{"since":"2026-02-01"}', "access_token": META_TOKEN},
    )
    assert bad_range.status_code == 400


def test_tenant_token_confines_the_caller():
    client = make_client(make_api())
    mine = client.get(
        f"{BASE}/act_{META_BV}", params={"fields": "id,currency", "access_token": sandbox_token("bellavista")}
    )
    assert mine.json() == {"id": f"act_{META_BV}", "currency": "EUR"}
    other = client.get(f"{BASE}/act_{META_NW}/insights", params={"access_token": sandbox_token("bellavista")})
    assert other.status_code == 400 and other.json()["error"]["error_subcode"] == 33
    write = client.post(
        f"{BASE}/120001", data={"status": "PAUSED", "access_token": sandbox_token("bellavista")}
    )
    assert write.json()["error"]["code"] == 100
    unknown = client.get(f"{BASE}/act_{META_NW}", params={"access_token": sandbox_token("nobody")})
    assert unknown.json()["error"]["code"] == 190
