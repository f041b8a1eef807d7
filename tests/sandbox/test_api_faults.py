"""Fault injection: each kind on each platform has the right status, body and headers; faults are
seeded, transient, and a timeout can land before or after a write is applied."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.sandbox.api import BASE_URLS, FaultConfig
from tests.sandbox.api_fixtures import (
    GOOGLE_HEADERS,
    GOOGLE_NW,
    HUBSPOT_NW,
    META_NW,
    META_TOKEN,
    FixtureState,
    make_api,
    make_client,
)

READS = {
    "meta": ("GET", f"{BASE_URLS['meta']}/act_{META_NW}/insights", {"params": {"access_token": META_TOKEN}}),
    "google_ads": (
        "POST",
        f"{BASE_URLS['google_ads']}/customers/{GOOGLE_NW}/googleAds:searchStream",
        {"json": {"query": "SELECT campaign.id FROM campaign"}, "headers": GOOGLE_HEADERS},
    ),
    "hubspot": ("GET", f"{BASE_URLS['hubspot']}/crm/v3/objects/contacts", {"headers": HUBSPOT_NW}),
}
META_PAUSE = (
    "POST",
    f"{BASE_URLS['meta']}/120001",
    {"data": {"status": "PAUSED", "access_token": META_TOKEN}},
)


def _send(client, request, **extra):
    method, url, kwargs = request
    headers = {**kwargs.get("headers", {}), **extra.pop("headers", {})}
    return client.request(method, url, **{**kwargs, "headers": headers}, **extra)


def _one(platform, kind, seed=0, retry_after=0):
    api = make_api(faults=FaultConfig(rate=1.0, seed=seed, kinds=(kind,), retry_after=retry_after))
    return _send(make_client(api), READS[platform])


def test_429_carries_retry_after_and_a_platform_body():
    meta = _one("meta", "429", retry_after=1)
    assert meta.status_code == 429 and meta.headers["retry-after"] == "1"
    assert meta.json()["error"]["code"] == 4 and meta.json()["error"]["is_transient"] is True
    google = _one("google_ads", "429")
    assert google.status_code == 429 and google.headers["retry-after"] == "0"
    assert google.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    hubspot = _one("hubspot", "429")
    assert hubspot.status_code == 429 and hubspot.headers["retry-after"] == "0"
    assert hubspot.json()["errorType"] == "RATE_LIMIT"


def test_meta_throttle_is_a_400_body_with_usage_headers():
    codes = set()
    for seed in range(12):
        response = _one("meta", "throttle", seed=seed, retry_after=120)
        error = response.json()["error"]
        assert (
            response.status_code == 400
            and error["is_transient"] is True
            and error["type"] == "OAuthException"
        )
        codes.add((error["code"], error.get("error_subcode")))
        usage = json.loads(response.headers["x-business-use-case-usage"])
        assert usage[META_NW][0]["estimated_time_to_regain_access"] == 2  # minutes
        assert json.loads(response.headers["x-ad-account-usage"])["acc_id_util_pct"] == 100
    assert codes == {(17, 2446079), (613, 1487742), (80004, 2446079)}


def test_google_throttle_is_resource_exhausted_with_retry_delay():
    response = _one("google_ads", "throttle", retry_after=3)
    assert response.status_code == 429 and "retry-after" not in response.headers
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    detail = error["details"][0]["errors"][0]
    assert detail["errorCode"] == {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}
    assert detail["details"]["quotaErrorDetails"]["retryDelay"] == "3s"


def test_hubspot_throttle_is_the_ten_secondly_body():
    response = _one("hubspot", "throttle")
    assert response.status_code == 429
    body = response.json()
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["status"], body["errorType"], body["policyName"]) == (
        "error",
        "RATE_LIMIT",
        "TEN_SECONDLY_ROLLING",
    )


@pytest.mark.parametrize("platform", ["meta", "google_ads", "hubspot"])
def test_5xx_mixes_json_errors_and_a_gateway_page(platform):
    seen = {}
    for seed in range(15):
        response = _one(platform, "5xx", seed=seed)
        seen[response.status_code] = response
    assert set(seen) == {500, 502, 503}
    assert seen[502].headers["content-type"].startswith("text/html")
    for status in (500, 503):
        body = seen[status].json()
        if platform == "meta":
            assert body["error"]["is_transient"] is True
        elif platform == "google_ads":
            assert body["error"]["status"] in {"INTERNAL", "UNAVAILABLE"}
        else:
            assert body["status"] == "error"


def test_timeout_before_raises_and_applies_nothing():
    state = FixtureState()
    api = make_api(state, faults=FaultConfig(rate=1.0, kinds=("timeout",), timeout_mode="before"))
    with pytest.raises(httpx.ReadTimeout):
        _send(make_client(api), META_PAUSE)
    assert api.applied_writes == [] and state.mutations == []


def test_timeout_after_applies_the_write_and_a_keyed_retry_is_not_reapplied():
    state = FixtureState()
    api = make_api(
        state, faults=FaultConfig(rate=1.0, kinds=("timeout",), timeout_mode="after", max_consecutive=1)
    )
    client = make_client(api)
    key = {"X-Idempotency-Key": "decision-42"}
    with pytest.raises(httpx.ReadTimeout):
        _send(client, META_PAUSE, headers=key)
    assert len(api.applied_writes) == 1  # applied, though the caller never heard back
    retry = _send(client, META_PAUSE, headers=key)
    assert retry.json() == {"success": True} and retry.headers["x-idempotent-replayed"] == "true"
    assert len(api.applied_writes) == 1 and len(state.mutations) == 1


def test_timeout_after_without_a_key_applies_twice():
    state = FixtureState()
    api = make_api(
        state, faults=FaultConfig(rate=1.0, kinds=("timeout",), timeout_mode="after", max_consecutive=1)
    )
    client = make_client(api)
    with pytest.raises(httpx.ReadTimeout):
        _send(client, META_PAUSE)
    assert _send(client, META_PAUSE).status_code == 200
    assert len(api.applied_writes) == 2


def test_faults_are_transient_and_seeded():
    def outcomes(seed):
        api = make_api(faults=FaultConfig(rate=0.5, seed=seed, kinds=("429", "5xx")))
        client = make_client(api)
        return [_send(client, READS["hubspot"]).status_code for _ in range(30)]

    first = outcomes(3)
    assert first == outcomes(3) and first != outcomes(4)
    assert 200 in first and any(s >= 429 for s in first)

    api = make_api(faults=FaultConfig(rate=1.0, kinds=("5xx",), max_consecutive=2))
    client = make_client(api)
    statuses = [_send(client, READS["google_ads"]).status_code for _ in range(3)]
    assert statuses[:2] != [200, 200] and statuses[2] == 200
    assert [kind for _, kind in api.injected_faults] == ["5xx", "5xx"]


def test_platform_filter_and_config_validation():
    api = make_api(faults=FaultConfig(rate=1.0, kinds=("5xx",), platforms=("meta",)))
    client = make_client(api)
    assert _send(client, READS["hubspot"]).status_code == 200
    assert _send(client, READS["meta"]).status_code >= 500
    for bad in (
        {"rate": 1.5},
        {"rate": 0.1, "kinds": ("teapot",)},
        {"rate": 0.1, "kinds": ()},
        {"rate": 0.1, "timeout_mode": "during"},
        {"rate": 0.1, "platforms": ("snapchat",)},
    ):
        with pytest.raises(ValueError):
            FaultConfig(**bad)
