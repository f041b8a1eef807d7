"""The loopback server answers exactly what the in-process transport answers."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.sandbox.api import BASE_URLS, FaultConfig, loopback_base_urls, serve
from tests.sandbox.api_fixtures import (
    DAYS,
    GOOGLE_HEADERS,
    GOOGLE_NW,
    HUBSPOT_NW,
    META_NW,
    META_TOKEN,
    FixtureState,
    make_api,
    make_client,
)


@pytest.fixture
def server():
    state = FixtureState()
    running = serve(state, port=0, background=True)
    yield running
    running.stop()


def test_loopback_get_is_byte_identical_to_in_process(server):
    local = make_client(make_api(FixtureState()))
    remote = httpx.Client(timeout=5)
    params = {
        "level": "ad",
        "time_increment": "1",
        "time_range": json.dumps({"since": DAYS[0].isoformat(), "until": DAYS[2].isoformat()}),
        "fields": "ad_id,spend,actions",
        "limit": "500",
        "access_token": META_TOKEN,
    }
    path = f"/act_{META_NW}/insights"
    a = local.get(BASE_URLS["meta"] + path, params=params)
    b = remote.get(server.base_urls["meta"] + path, params=params)
    assert a.status_code == b.status_code == 200 and a.json()["data"]
    assert a.content == b.content
    assert a.headers["x-fb-trace-id"] == b.headers["x-fb-trace-id"]

    query = {"query": "SELECT campaign.id, campaign.status FROM campaign"}
    path = f"/customers/{GOOGLE_NW}/googleAds:searchStream"
    a = local.post(BASE_URLS["google_ads"] + path, json=query, headers=GOOGLE_HEADERS)
    b = remote.post(server.base_urls["google_ads"] + path, json=query, headers=GOOGLE_HEADERS)
    assert a.content == b.content


def test_loopback_paging_links_point_back_at_the_server(server):
    remote = httpx.Client(timeout=5)
    base = server.base_urls["hubspot"]
    assert base == loopback_base_urls("127.0.0.1", server.port)["hubspot"]
    first = remote.get(f"{base}/crm/v3/objects/contacts", params={"limit": 100}, headers=HUBSPOT_NW).json()
    link = first["paging"]["next"]["link"]
    assert link.startswith(f"{base}/crm/v3/objects/contacts?")
    second = remote.get(link, headers=HUBSPOT_NW)
    local = make_client(make_api(FixtureState()))
    in_process = local.get(link.replace(base, BASE_URLS["hubspot"]), headers=HUBSPOT_NW)
    assert second.json()["results"] == in_process.json()["results"]


def test_loopback_writes_reach_the_state(server):
    remote = httpx.Client(timeout=5)
    r = remote.post(
        f"{server.base_urls['meta']}/120001", data={"status": "PAUSED", "access_token": META_TOKEN}
    )
    assert r.json() == {"success": True}
    assert len(server.api.applied_writes) == 1
    statuses = dict(server.api.state.world.ad_groups.select("ad_group_id", "status").iter_rows())
    assert statuses["120001"] == "PAUSED"
    assert remote.get(f"http://127.0.0.1:{server.port}/snapchat/v1").status_code == 404


def test_loopback_timeout_stalls_past_the_client_timeout():
    faults = FaultConfig(rate=1.0, kinds=("timeout",), timeout_delay=0.5, max_consecutive=1)
    with serve(FixtureState(), port=0, faults=faults, background=True) as running:
        client = httpx.Client(timeout=0.1)
        url = f"{running.base_urls['hubspot']}/crm/v3/objects/deals"
        with pytest.raises(httpx.ReadTimeout):
            client.get(url, headers=HUBSPOT_NW)
        assert httpx.Client(timeout=5).get(url, headers=HUBSPOT_NW).status_code == 200


def test_concurrent_clients_get_consistent_answers(server):
    from concurrent.futures import ThreadPoolExecutor

    url = f"{server.base_urls['meta']}/act_{META_NW}/insights"
    params = {"level": "campaign", "time_increment": "1", "limit": "500", "access_token": META_TOKEN}
    params["time_range"] = json.dumps({"since": DAYS[0].isoformat(), "until": DAYS[-1].isoformat()})

    with httpx.Client(timeout=5) as client, ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(lambda _: client.get(url, params=params).content, range(24)))
    assert len(set(bodies)) == 1 and json.loads(bodies[0])["data"]
