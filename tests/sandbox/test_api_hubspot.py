"""Fake HubSpot CRM v3: list paging, property formats, associations, search windows, limits, auth."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from connectors.sandbox.api import BASE_URLS, SandboxLimits
from tests.sandbox.api_fixtures import (
    HUBSPOT_BV,
    HUBSPOT_NW,
    N_CONTACTS,
    N_DEALS,
    FixtureState,
    make_api,
    make_client,
)

BASE = BASE_URLS["hubspot"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LIFECYCLE = (
    "hs_lifecyclestage_lead_date,hs_lifecyclestage_marketingqualifiedlead_date,"
    "hs_lifecyclestage_salesqualifiedlead_date,hs_lifecyclestage_opportunity_date,hs_lifecyclestage_customer_date"
)


def _ms(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def _list_all(client, kind, params, headers=HUBSPOT_NW):
    results, pages = [], 0
    body = client.get(f"{BASE}/crm/v3/objects/{kind}", params=params, headers=headers).json()
    while True:
        pages += 1
        results += body["results"]
        if "paging" not in body:
            return results, pages
        body = client.get(body["paging"]["next"]["link"], headers=headers).json()


def test_contacts_list_pages_to_the_end_with_string_properties():
    state = FixtureState()
    client = make_client(make_api(state))
    props = f"email,firstname,lastname,lifecyclestage,createdate,lastmodifieddate,anonymous_id,{LIFECYCLE}"
    results, pages = _list_all(client, "contacts", {"limit": 100, "properties": props})
    world = state.world.contacts.filter(pl.col("tenant_id") == "northwind")
    assert pages == 3 and len(results) == N_CONTACTS["northwind"] == world.height
    assert len({r["id"] for r in results}) == len(results)
    assert [int(r["id"]) for r in results] == sorted(int(r["id"]) for r in results)
    truth = {r["contact_id"]: r for r in world.to_dicts()}
    for result in results:
        props_out = result["properties"]
        assert all(v is None or isinstance(v, str) for v in props_out.values())
        assert props_out["hs_object_id"] == result["id"] and result["archived"] is False
        assert ISO_MS.match(props_out["createdate"]) and ISO_MS.match(result["updatedAt"])
        row = truth[result["id"]]
        assert props_out["email"] == row["email"] and props_out["anonymous_id"] == row["anonymous_id"]
        assert props_out["lastmodifieddate"] == row["updated_at"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert result["createdAt"] == props_out["createdate"]
        customer = props_out["hs_lifecyclestage_customer_date"]
        assert (customer is None) == (row["customer_date"] is None)
        assert set(props_out) >= {"hs_lifecyclestage_lead_date", "lifecyclestage"}


def test_default_properties_and_single_read():
    client = make_client(make_api())
    body = client.get(f"{BASE}/crm/v3/objects/contacts", params={"limit": 1}, headers=HUBSPOT_NW).json()
    assert set(body["results"][0]["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    contact_id = body["results"][0]["id"]
    one = client.get(f"{BASE}/crm/v3/objects/contacts/{contact_id}", headers=HUBSPOT_NW).json()
    assert one["id"] == contact_id
    missing = client.get(f"{BASE}/crm/v3/objects/contacts/1", headers=HUBSPOT_NW)
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_deals_carry_amounts_as_strings_and_contact_associations():
    state = FixtureState()
    client = make_client(make_api(state))
    results, _ = _list_all(
        client, "deals", {"limit": 7, "associations": "contacts", "properties": "amount,dealstage,closedate"}
    )
    world = {d["deal_id"]: d for d in state.world.deals.filter(pl.col("tenant_id") == "northwind").to_dicts()}
    assert len(results) == N_DEALS["northwind"] == len(world)
    for deal in results:
        truth = world[deal["id"]]
        assert deal["properties"]["amount"] == f"{truth['amount']:.2f}"
        assert deal["associations"]["contacts"]["results"] == [
            {"id": truth["contact_id"], "type": "deal_to_contact"}
        ]
        assert (deal["properties"]["closedate"] is None) == (truth["closedate"] is None)
        assert ISO_MS.match(deal["properties"]["hs_lastmodifieddate"])
    contact = results[0]["associations"]["contacts"]["results"][0]["id"]
    linked = client.get(
        f"{BASE}/crm/v3/objects/contacts/{contact}", params={"associations": "deals"}, headers=HUBSPOT_NW
    ).json()
    assert {"id": results[0]["id"], "type": "contact_to_deal"} in linked["associations"]["deals"]["results"]


def _search(client, kind, body, headers=HUBSPOT_NW):
    return client.post(f"{BASE}/crm/v3/objects/{kind}/search", json=body, headers=headers)


def test_search_window_sorted_ascending_with_total_and_paging():
    state = FixtureState()
    client = make_client(make_api(state))
    low, high = datetime(2025, 12, 1), datetime(2026, 1, 15)
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(_ms(low))},
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "LT",
                        "value": "2026-01-15T00:00:00.000Z",
                    },
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate"],
        "limit": 20,
    }
    results, after = [], None
    while True:
        page = _search(client, "contacts", {**body, **({"after": after} if after else {})}).json()
        results += page["results"]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
        assert set(page["paging"]["next"]) == {"after"}
    contacts = state.world.contacts
    expected = contacts.filter(
        (pl.col("tenant_id") == "northwind") & (pl.col("updated_at") >= low) & (pl.col("updated_at") < high)
    )
    assert page["total"] == expected.height == len(results) == len({r["id"] for r in results})
    stamps = [r["properties"]["lastmodifieddate"] for r in results]
    assert stamps == sorted(stamps)


def test_search_cap_forces_moving_the_cursor_window():
    """Paging past the window is refused (as HubSpot's 10,000 cap); moving the GTE cursor reaches all."""
    state = FixtureState()
    client = make_client(make_api(state, limits=SandboxLimits(hubspot_search_window=60)))
    sort = [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    cursor, seen, refused = 0, {}, 0
    while True:
        after, last_stamp = 0, None
        while True:
            body = {
                "filterGroups": [
                    {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": cursor}]}
                ],
                "sorts": sort,
                "limit": 25,
                "after": after,
            }
            response = _search(client, "contacts", body)
            if response.status_code == 400:
                assert response.json()["category"] == "VALIDATION_ERROR"
                refused += 1
                break
            page = response.json()
            for result in page["results"]:
                seen[result["id"]] = result
                last_stamp = result["properties"]["lastmodifieddate"]
            if "paging" not in page:
                break
            after = int(page["paging"]["next"]["after"])
        if response.status_code != 400:
            break
        cursor = int(datetime.fromisoformat(last_stamp.replace("Z", "+00:00")).timestamp() * 1000)
    assert refused >= 3 and len(seen) == N_CONTACTS["northwind"]


def test_search_filter_operators():
    client = make_client(make_api())
    stages = _search(
        client,
        "contacts",
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer", "lead"]}
                    ]
                }
            ]
        },
    ).json()
    assert stages["total"] == 100
    either = _search(
        client,
        "contacts",
        {
            "filterGroups": [
                {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}]},
                {
                    "filters": [
                        {"propertyName": "hs_lifecyclestage_customer_date", "operator": "NOT_HAS_PROPERTY"}
                    ]
                },
            ]
        },
    ).json()
    assert either["total"] == N_CONTACTS["northwind"]
    won = _search(
        client,
        "deals",
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"},
                        {"propertyName": "amount", "operator": "BETWEEN", "value": "100", "highValue": "500"},
                    ]
                }
            ],
            "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}],
        },
    ).json()
    amounts = [float(r["properties"]["amount"]) for r in won["results"]]
    assert won["total"] > 0 and all(100 <= a <= 500 for a in amounts)


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", "/crm/v3/objects/contacts?limit=101", None, 400),
        ("POST", "/crm/v3/objects/contacts/search", {"limit": 201}, 400),
        ("POST", "/crm/v3/objects/contacts/search", {"after": "10000"}, 400),
        (
            "POST",
            "/crm/v3/objects/deals/search",
            {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]},
            400,
        ),
        (
            "POST",
            "/crm/v3/objects/deals/search",
            {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "ABOUT", "value": "1"}]}]},
            400,
        ),
        ("POST", "/crm/v3/objects/contacts/search", {"filterGroups": [{"filters": []}] * 6}, 400),
        ("GET", "/crm/v3/objects/tickets", None, 400),
    ],
)
def test_validation_errors_use_hubspot_bodies(method, path, payload, status):
    client = make_client(make_api())
    response = client.request(method, f"{BASE}{path}", json=payload, headers=HUBSPOT_NW)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR" and body["correlationId"]


def test_token_selects_the_portal_and_missing_token_is_401():
    client = make_client(make_api())
    bv, _ = _list_all(client, "contacts", {"limit": 100}, headers=HUBSPOT_BV)
    assert len(bv) == N_CONTACTS["bellavista"] and all("bellavista" in r["properties"]["email"] for r in bv)
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer some-other-token"}):
        response = client.get(f"{BASE}/crm/v3/objects/contacts", headers=headers)
        assert response.status_code == 401
        assert (
            response.json()["category"] == "INVALID_AUTHENTICATION" and response.json()["status"] == "error"
        )


def test_rate_limit_headers_count_down_and_reset():
    now = [100.0]
    api = make_api(limits=SandboxLimits(hubspot_rate_max=5, hubspot_rate_interval_ms=10_000))
    api.hubspot._clock = lambda: now[0]
    client = make_client(api)

    def remaining():
        response = client.get(f"{BASE}/crm/v3/objects/deals", params={"limit": 1}, headers=HUBSPOT_NW)
        assert response.headers["x-hubspot-ratelimit-max"] == "5"
        assert response.headers["x-hubspot-ratelimit-interval-milliseconds"] == "10000"
        assert int(response.headers["x-hubspot-ratelimit-daily"]) > 0
        return int(response.headers["x-hubspot-ratelimit-remaining"]), int(
            response.headers["x-hubspot-ratelimit-daily-remaining"]
        )

    first = [remaining() for _ in range(3)]
    assert [r for r, _ in first] == [4, 3, 2]
    assert first[0][1] - first[2][1] == 2
    now[0] += 10.0
    assert remaining()[0] == 4


def test_v4_batch_association_read():
    state = FixtureState()
    client = make_client(make_api(state))
    deals = state.world.deals.filter(pl.col("tenant_id") == "northwind").head(3).to_dicts()
    inputs = [{"id": d["deal_id"]} for d in deals]
    url = f"{BASE}/crm/v4/associations/deals/contacts/batch/read"
    response = client.post(url, json={"inputs": inputs}, headers=HUBSPOT_NW)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE"
    assert [(r["from"]["id"], r["to"][0]["toObjectId"]) for r in body["results"]] == [
        (d["deal_id"], int(d["contact_id"])) for d in deals
    ]
    assert body["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 3
    partial = client.post(url, json={"inputs": [*inputs, {"id": "1"}]}, headers=HUBSPOT_NW)
    assert partial.status_code == 207 and partial.json()["numErrors"] == 1
    assert partial.json()["errors"][0]["context"] == {"fromObjectId": ["1"]}
    bad = client.post(url, json={"ids": ["1"]}, headers=HUBSPOT_NW)
    assert bad.status_code == 400
