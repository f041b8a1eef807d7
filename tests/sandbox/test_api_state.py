"""The fake APIs over a real `SandboxState` on the tiny preset: full reads reconcile with the world,
writes land in the mutation log and shape the days simulated after them."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import polars as pl
import pytest

from connectors.sandbox.api import BASE_URLS, IDEMPOTENCY_HEADER, SandboxAPI, sandbox_token
from connectors.sandbox.generator import ensure_world
from connectors.sandbox.state import SandboxState
from tests.sandbox.api_fixtures import GOOGLE_HEADERS, make_client


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return ensure_world("tiny", 7, tmp_path_factory.mktemp("worlds"))


@pytest.fixture
def state(tiny_dir, tmp_path):
    copy = tmp_path / tiny_dir.name
    shutil.copytree(tiny_dir, copy)
    return SandboxState(copy)


def _accounts(state, platform):
    return state.world.accounts.filter(pl.col("platform") == platform).to_dicts()


def test_meta_insights_reconcile_with_delivery(state):
    client = make_client(SandboxAPI(state))
    world = state.world
    for account in _accounts(state, "meta"):
        params = {
            "level": "ad",
            "time_increment": "1",
            "time_range": json.dumps(
                {"since": world.meta.start_date.isoformat(), "until": state.today.isoformat()}
            ),
            "fields": "ad_id,spend,impressions,actions,account_currency",
            "limit": "500",
            "access_token": sandbox_token(account["tenant_id"]),
        }
        body = client.get(f"{BASE_URLS['meta']}/act_{account['account_id']}/insights", params=params).json()
        rows = list(body["data"])
        while "next" in body.get("paging", {}):
            body = client.get(body["paging"]["next"]).json()
            rows += body["data"]
        truth = world.delivery.filter(pl.col("account_id") == account["account_id"])
        assert len(rows) == truth.height == len({(r["ad_id"], r["date_start"]) for r in rows})
        assert sum(Decimal(r["spend"]) for r in rows) == Decimal(int(truth["spend_micros"].sum())) / 10**6
        assert sum(int(r["impressions"]) for r in rows) == truth["impressions"].sum()
        assert {r["account_currency"] for r in rows} == {account["currency"]}


def test_google_stats_and_hubspot_lists_reconcile(state):
    client = make_client(SandboxAPI(state))
    world = state.world
    for account in _accounts(state, "google_ads"):
        query = (
            "SELECT ad_group_ad.ad.id, metrics.cost_micros, metrics.clicks, segments.date FROM ad_group_ad "
            f"WHERE segments.date BETWEEN '{world.meta.start_date}' AND '{state.today}'"
        )
        batches = client.post(
            f"{BASE_URLS['google_ads']}/customers/{account['account_id']}/googleAds:searchStream",
            json={"query": query},
            headers=GOOGLE_HEADERS,
        ).json()
        results = [r for batch in batches for r in batch.get("results", [])]
        truth = world.delivery.filter(pl.col("account_id") == account["account_id"])
        assert len(results) == truth.height
        assert sum(int(r["metrics"]["costMicros"]) for r in results) == truth["spend_micros"].sum()
    for tenant in world.tenants["tenant_id"]:
        headers = {"Authorization": f"Bearer {sandbox_token(tenant)}"}
        ids: set[str] = set()
        for archived in ("false", "true"):  # archived records are listed apart, not deleted
            url = f"{BASE_URLS['hubspot']}/crm/v3/objects/contacts?limit=100&archived={archived}"
            while url:
                body = client.get(url, headers=headers).json()
                assert all(r["archived"] == (archived == "true") for r in body["results"])
                ids.update(r["id"] for r in body["results"])
                url = body.get("paging", {}).get("next", {}).get("link")
        assert ids == set(world.contacts.filter(pl.col("tenant_id") == tenant)["contact_id"])


def test_writes_are_logged_and_shape_the_next_days(state):
    api = SandboxAPI(state)
    client = make_client(api)
    world = state.world
    adset = world.ad_groups.filter((pl.col("platform") == "meta") & (pl.col("status") == "ACTIVE")).row(
        0, named=True
    )
    r = client.post(
        f"{BASE_URLS['meta']}/{adset['ad_group_id']}",
        data={"daily_budget": "1234", "access_token": "t"},
        headers={IDEMPOTENCY_HEADER: "d-1"},
    )
    assert r.json() == {"success": True}
    campaign = world.campaigns.filter(
        (pl.col("platform") == "google_ads") & (pl.col("status") == "ACTIVE")
    ).row(0, named=True)
    pause = {
        "operations": [
            {
                "update": {
                    "resourceName": f"customers/{campaign['account_id']}/campaigns/{campaign['campaign_id']}",
                    "status": "PAUSED",
                },
                "updateMask": "status",
            }
        ]
    }
    url = f"{BASE_URLS['google_ads']}/customers/{campaign['account_id']}/campaigns:mutate"
    assert client.post(url, json=pause, headers=GOOGLE_HEADERS).status_code == 200

    budgets = dict(state.world.ad_groups.select("ad_group_id", "daily_budget").iter_rows())
    assert budgets[adset["ad_group_id"]] == 12.34
    log = [
        json.loads(line) for line in (state.world_dir / "state" / "mutations.jsonl").read_text().splitlines()
    ]
    assert [(e["op"], e["entity_id"]) for e in log] == [
        ("set_daily_budget", adset["ad_group_id"]),
        ("set_status", campaign["campaign_id"]),
    ]
    assert (state.world_dir / "state" / "idempotency.jsonl").exists()

    state.advance(1)
    new_day = state.today
    served = state.world.delivery.filter(pl.col("date") == new_day)
    assert served.height > 0 and campaign["campaign_id"] not in set(served["campaign_id"])
    params = {
        "level": "adset",
        "time_increment": "1",
        "time_range": json.dumps({"since": new_day.isoformat(), "until": new_day.isoformat()}),
        "fields": "adset_id,spend",
        "access_token": "t",
    }
    body = client.get(f"{BASE_URLS['meta']}/act_{adset['account_id']}/insights", params=params).json()
    spend = {r["adset_id"]: Decimal(r["spend"]) for r in body["data"]}
    assert spend.get(adset["ad_group_id"], Decimal(0)) <= Decimal("12.34") * Decimal(
        "1.25"
    )  # Meta may overspend 25%
    google = client.post(
        f"{BASE_URLS['google_ads']}/customers/{campaign['account_id']}/googleAds:searchStream",
        json={
            "query": f"SELECT campaign.status FROM campaign WHERE campaign.id = '{campaign['campaign_id']}'"
        },
        headers=GOOGLE_HEADERS,
    ).json()
    assert google[0]["results"][0]["campaign"]["status"] == "PAUSED"

    # The plan of the new day is what the writes made it, and Meta's activity log shows the write
    # (so the anomaly model scores the next days' spend against the budget the activation layer set).
    planned = state.world.truth["campaign_budgets"].filter(pl.col("date") == new_day)
    assert campaign["campaign_id"] not in set(planned["campaign_id"])  # paused: no plan
    siblings = state.world.ad_groups.filter(
        (pl.col("campaign_id") == adset["campaign_id"]) & (pl.col("status") == "ACTIVE")
    )
    meta_plan = planned.filter(pl.col("campaign_id") == adset["campaign_id"])["daily_budget"]
    assert meta_plan.to_list() == [pytest.approx(siblings["daily_budget"].fill_null(0.0).sum())]
    body = client.get(
        f"{BASE_URLS['meta']}/act_{adset['account_id']}/activities",
        params={
            "since": new_day.isoformat(),
            "access_token": "t",
            "fields": "event_type,object_id,extra_data",
        },
    ).json()
    updates = [e for e in body["data"] if e["object_id"] == adset["campaign_id"]]
    assert [e["event_type"] for e in updates] == ["update_campaign_budget"]
    assert json.loads(updates[0]["extra_data"])["new_value"] == round(meta_plan[0] * 100)
