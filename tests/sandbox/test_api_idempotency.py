"""Writes carrying X-Idempotency-Key are applied once; the first answer is replayed; keys persist."""

from __future__ import annotations

import json

from connectors.sandbox.api import BASE_URLS, IDEMPOTENCY_HEADER
from tests.sandbox.api_fixtures import (
    GOOGLE_HEADERS,
    GOOGLE_NW,
    META_TOKEN,
    FixtureState,
    make_api,
    make_client,
)

META = BASE_URLS["meta"]
BUDGET_URL = f"{BASE_URLS['google_ads']}/customers/{GOOGLE_NW}/campaignBudgets:mutate"


def _budget(micros):
    return {
        "operations": [
            {
                "update": {
                    "resourceName": f"customers/{GOOGLE_NW}/campaignBudgets/91002",
                    "amountMicros": str(micros),
                },
                "updateMask": "amount_micros",
            }
        ]
    }


def test_repeated_meta_write_is_applied_once_and_replayed():
    state = FixtureState()
    api = make_api(state)
    client = make_client(api)
    headers = {IDEMPOTENCY_HEADER: "k-1"}
    first = client.post(
        f"{META}/120001", data={"daily_budget": "3300", "access_token": META_TOKEN}, headers=headers
    )
    second = client.post(
        f"{META}/120001", data={"daily_budget": "3300", "access_token": META_TOKEN}, headers=headers
    )
    assert first.content == second.content and first.status_code == second.status_code == 200
    assert second.headers["x-idempotent-replayed"] == "true" and "x-idempotent-replayed" not in first.headers
    assert len(api.applied_writes) == 1 and api.applied_writes[0].idempotency_key == "k-1"
    assert len(state.mutations) == 1
    client.post(f"{META}/120001", data={"daily_budget": "3300", "access_token": META_TOKEN})
    assert len(api.applied_writes) == 2  # no key, applied again


def test_the_token_is_not_part_of_the_request_identity():
    api = make_api()
    client = make_client(api)
    headers = {IDEMPOTENCY_HEADER: "k-token"}
    client.post(f"{META}/120001", data={"status": "PAUSED", "access_token": "token-a"}, headers=headers)
    replay = client.post(
        f"{META}/120001", data={"status": "PAUSED", "access_token": "token-b"}, headers=headers
    )
    assert replay.status_code == 200 and len(api.applied_writes) == 1


def test_repeated_google_mutate_is_applied_once():
    state = FixtureState()
    api = make_api(state)
    client = make_client(api)
    headers = {**GOOGLE_HEADERS, IDEMPOTENCY_HEADER: "budget-7"}
    responses = [client.post(BUDGET_URL, json=_budget(30_000_000), headers=headers) for _ in range(3)]
    assert {r.content for r in responses} == {responses[0].content}
    assert len(api.applied_writes) == 1 and len(state.mutations) == 1


def test_a_key_reused_for_a_different_request_is_refused():
    state = FixtureState()
    api = make_api(state)
    client = make_client(api)
    headers = {**GOOGLE_HEADERS, IDEMPOTENCY_HEADER: "budget-8"}
    assert client.post(BUDGET_URL, json=_budget(30_000_000), headers=headers).status_code == 200
    other = client.post(BUDGET_URL, json=_budget(90_000_000), headers=headers)
    assert other.status_code == 400 and other.json()["error"]["status"] == "INVALID_ARGUMENT"
    budgets = dict(state.world.campaigns.select("campaign_id", "daily_budget").iter_rows())
    assert budgets["310003"] == 30.0 and len(api.applied_writes) == 1
    meta = client.post(
        f"{META}/120001",
        data={"status": "PAUSED", "access_token": META_TOKEN},
        headers={IDEMPOTENCY_HEADER: "m"},
    )
    assert meta.status_code == 200
    reused = client.post(
        f"{META}/120001",
        data={"status": "ACTIVE", "access_token": META_TOKEN},
        headers={IDEMPOTENCY_HEADER: "m"},
    )
    assert reused.status_code == 400 and reused.json()["error"]["code"] == 100


def test_reads_ignore_the_key():
    api = make_api()
    client = make_client(api)
    params = {"fields": "id,status", "access_token": META_TOKEN}
    client.get(f"{META}/120001", params=params, headers={IDEMPOTENCY_HEADER: "r"})
    client.post(f"{META}/120001", data={"status": "PAUSED", "access_token": META_TOKEN})
    after = client.get(f"{META}/120001", params=params, headers={IDEMPOTENCY_HEADER: "r"})
    assert after.json()["status"] == "PAUSED" and len(api.idempotency) == 0


def test_keys_persist_in_the_world_directory(tmp_path):
    state = FixtureState(world_dir=tmp_path)
    first_api = make_api(state)
    headers = {**GOOGLE_HEADERS, IDEMPOTENCY_HEADER: "budget-9"}
    first = make_client(first_api).post(BUDGET_URL, json=_budget(30_000_000), headers=headers)
    log = tmp_path / "state" / "idempotency.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["platform"], r["key"], r["status"]) for r in records] == [("google_ads", "budget-9", 200)]

    restarted = make_api(state)  # a new process over the same world
    again = make_client(restarted).post(BUDGET_URL, json=_budget(30_000_000), headers=headers)
    assert again.content == first.content and restarted.applied_writes == [] and len(state.mutations) == 1
