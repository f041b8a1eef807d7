"""Body faults (issue 3): the request is served, then its answer is dropped, repeated, restated or
drifts, through each platform's `fault_rows` hook; platforms restate recent days as they mature."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import httpx
import pytest

from connectors.sandbox.api import BASE_URLS, FaultConfig, SandboxLimits, serve
from connectors.sandbox.api.faults import text_number
from tests.sandbox.api_fixtures import (
    DAYS,
    GOOGLE_HEADERS,
    GOOGLE_NW,
    HUBSPOT_NW,
    META_NW,
    META_TOKEN,
    TODAY,
    FixtureState,
    make_api,
    make_client,
)

RANGE = json.dumps({"since": DAYS[0].isoformat(), "until": DAYS[-1].isoformat()})
META = (
    "GET",
    f"{BASE_URLS['meta']}/act_{META_NW}/insights",
    {
        "params": {
            "access_token": META_TOKEN,
            "level": "ad",
            "time_increment": "1",
            "time_range": RANGE,
            "fields": "ad_id,date_start,spend,impressions,clicks,actions,account_currency",
            "limit": "10",
        }
    },
)
GOOGLE = (
    "POST",
    f"{BASE_URLS['google_ads']}/customers/{GOOGLE_NW}/googleAds:searchStream",
    {
        "json": {
            "query": "SELECT campaign.id, campaign.name, ad_group.id, ad_group_ad.ad.id, customer.currency_code, "
            "metrics.cost_micros, metrics.impressions, metrics.conversions, segments.date FROM ad_group_ad "
            f"WHERE segments.date BETWEEN '{DAYS[0]}' AND '{DAYS[-1]}'"
        },
        "headers": GOOGLE_HEADERS,
    },
)
HUBSPOT = (
    "GET",
    f"{BASE_URLS['hubspot']}/crm/v3/objects/deals",
    {"headers": HUBSPOT_NW, "params": {"limit": "10", "properties": "amount,dealstage,createdate"}},
)
READS = {"meta": META, "google_ads": GOOGLE, "hubspot": HUBSPOT}


def _send(client, request, **params):
    method, url, kwargs = request
    kwargs = dict(kwargs)
    if params:
        kwargs["params"] = {**kwargs.get("params", {}), **params}
    return client.request(method, url, **kwargs)


def _rows(platform, body):
    if platform == "google_ads":
        return [r for batch in body for r in batch.get("results", [])]
    return body["data"] if platform == "meta" else body["results"]


def _faulty(kind, seed=0):
    return make_client(make_api(faults=FaultConfig(rate=1.0, seed=seed, kinds=(kind,))))


@pytest.mark.parametrize("platform", ["meta", "google_ads", "hubspot"])
def test_drop_raises_or_truncates_and_a_retry_succeeds(platform):
    outcomes = set()
    for seed in range(6):
        client = _faulty("drop", seed)
        try:
            response = _send(client, READS[platform])
        except httpx.RemoteProtocolError:
            outcomes.add("dropped")
            continue
        with pytest.raises(ValueError):
            json.loads(response.content)
        outcomes.add("truncated")
    assert outcomes == {"dropped", "truncated"}
    api = make_api(faults=FaultConfig(rate=1.0, kinds=("drop",), max_consecutive=1))
    client = make_client(api)
    with pytest.raises((httpx.RemoteProtocolError, ValueError)):
        json.loads(_send(client, READS[platform]).content)
    assert _rows(platform, _send(client, READS[platform]).json())


@pytest.mark.parametrize("platform", ["meta", "google_ads", "hubspot"])
def test_new_and_missing_columns_and_text_numbers(platform):
    clean = _rows(platform, _send(make_client(make_api()), READS[platform]).json())
    new = _rows(platform, _send(_faulty("drift_new_column"), READS[platform]).json())
    assert len(new) == len(clean) and all(_flatten(n) - _flatten(c) for n, c in zip(new, clean, strict=True))
    gone = _rows(platform, _send(_faulty("drift_missing_column"), READS[platform]).json())
    lost = set.intersection(*[_flatten(c) - _flatten(g) for g, c in zip(gone, clean, strict=True)])
    assert len(lost) == 1  # one required field, absent from every row
    changed = []
    for seed in range(6):  # the seed picks the text format: "1,234.50", "12.3" or "1.234,50"
        texts = _rows(platform, _send(_faulty("drift_text_number", seed), READS[platform]).json())
        changed += [(a, b) for c, t in zip(clean, texts, strict=True) for a, b in _diff(c, t)]
    assert changed and all(isinstance(b, str) for _, b in changed)


def test_duplicate_repeats_the_previous_page_rows():
    api = make_api(faults=FaultConfig(rate=0.5, seed=2, kinds=("duplicate",)))
    client = make_client(api)
    body = _send(client, META).json()
    pages = [body["data"]]
    while "next" in body.get("paging", {}):
        body = client.get(body["paging"]["next"]).json()
        pages.append(body["data"])
    keys = [(r["ad_id"], r["date_start"]) for page in pages for r in page]
    clean = _send(make_client(make_api()), META, limit="1000").json()["data"]
    assert ("meta", "duplicate") in api.injected_faults
    assert len(keys) > len(set(keys)) and set(keys) == {(r["ad_id"], r["date_start"]) for r in clean}


def test_text_number_is_readable_one_way():
    assert text_number("1234.50", 0) == "1,234.50"
    assert text_number(12.3, 1) == "12.3"
    assert text_number("1234.50", 2) == "1.234,50"
    assert text_number("1234", 2) == "1.234,0"  # never "1.234": that reads as 1.234 too
    assert text_number("53", 0) == "53"
    assert text_number(3000, 0) == "3,000.0"  # never "3,000": a decimal comma reads it as 3 too


def test_recent_days_are_restated_as_they_mature():
    state = FixtureState()
    final = SandboxLimits(meta_restatement_days=0, google_restatement_days=0)
    limits = SandboxLimits(meta_restatement_days=10, google_restatement_days=10)
    served = _conversions(make_api(state, limits=limits))
    truth = _conversions(make_api(state, limits=final))
    old = DAYS[0].isoformat()  # 14 days before today: final
    recent = (TODAY - timedelta(days=1)).isoformat()
    assert served[old] == truth[old]
    assert 0 < served[recent] < truth[recent]
    restated = make_api(state, FaultConfig(rate=1.0, kinds=("restate",)), limits=limits)
    later = _conversions(restated)  # as a pull some days later sees them
    assert served[recent] < later[recent] <= truth[recent] and later[old] == truth[old]


def _conversions(api) -> dict[str, float]:
    out: dict[str, float] = {}
    body = _send(make_client(api), META, limit="1000").json()
    for row in body["data"]:
        for action in row.get("actions", []):
            if action["action_type"] == "offsite_conversion.fb_pixel_purchase":
                out[row["date_start"]] = out.get(row["date_start"], 0) + float(action["value"])
    return out


def test_loopback_drop_closes_the_socket_mid_body():
    seed = next(s for s in range(50) if _first_variant(s) % 2 == 0)  # the socket variant, not truncation
    faults = FaultConfig(rate=1.0, seed=seed, kinds=("drop",), max_consecutive=1)
    with serve(FixtureState(), port=0, faults=faults, background=True) as server:
        url = f"{server.base_urls['hubspot']}/crm/v3/objects/contacts"
        with httpx.Client(timeout=5) as client:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                client.get(url, headers=HUBSPOT_NW)
            assert client.get(url, headers=HUBSPOT_NW).status_code == 200  # the retry goes through


def _first_variant(seed: int) -> int:
    rng = random.Random(seed)  # FaultInjector.draw: fail?, kind, variant
    rng.random()
    rng.choice(("drop",))
    return rng.randrange(3)


def _flatten(row, prefix=()):
    out = set()
    for key, value in row.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            out |= _flatten(value, path)
        else:
            out.add(path)
    return out


def _diff(a, b, prefix=()):
    for key, value in a.items():
        other = b.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            yield from _diff(value, other, (*prefix, key))
        elif value != other and key in b:
            yield value, other
