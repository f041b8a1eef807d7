"""HubSpot connector against a scripted CRM v3 API (and a small fake search with a result window)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import polars as pl
import pytest

from connectors.contracts import RAW_COLUMNS
from connectors.errors import AuthError, PermanentError, RateLimitedError
from connectors.http import RetryPolicy
from connectors.hubspot import HubSpotClient, HubSpotPacing, HubSpotSettings, parse_contacts, parse_deals
from tests.connectors.mock_api import Script, json_response

TOKEN = "pat-na1-hubspot-SECRET"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def contact(i: int, modified: datetime) -> dict:
    return {
        "id": str(i),
        "properties": {
            "email": f"c{i}@example.com",
            "firstname": "Ada",
            "lastname": "L",
            "lifecyclestage": "lead",
            "anonymous_id": f"anon-{i}",
            "createdate": "2025-12-01T08:00:00.000Z",
            "lastmodifieddate": iso(modified),
            "hs_lifecyclestage_lead_date": "2025-12-01T08:00:00Z",
            "hs_lifecyclestage_customer_date": None,
        },
        "createdAt": "2025-12-01T08:00:00.000Z",
        "updatedAt": iso(modified),
        "archived": False,
    }


def hclient(script_or_transport, sleeps, **kw) -> HubSpotClient:
    transport = (
        script_or_transport.transport if isinstance(script_or_transport, Script) else script_or_transport
    )
    kw.setdefault("retry", RetryPolicy(max_attempts=4))
    return HubSpotClient(TOKEN, transport=transport, tenant_id="northwind", sleep=sleeps, **kw)


def test_iter_objects_follows_after_until_absent(sleeps):
    script = Script(
        json_response(
            200,
            {"results": [contact(1, T0), contact(2, T0)], "paging": {"next": {"after": "2", "link": "x"}}},
        ),
        json_response(200, {"results": [contact(3, T0)], "paging": {"next": {"after": "3"}}}),
        json_response(200, {"results": [contact(4, T0)]}),
    )
    with hclient(script, sleeps) as hs:
        pages = list(hs.iter_objects("contacts", ["email", "lastmodifieddate"]))
    assert len(pages) == 3
    q0 = parse_qs(script.requests[0].url.query.decode())
    assert script.requests[0].url.path == "/crm/v3/objects/contacts"
    assert q0["limit"] == ["100"] and q0["properties"] == ["email,lastmodifieddate"] and "after" not in q0
    assert parse_qs(script.requests[1].url.query.decode())["after"] == ["2"]
    assert parse_qs(script.requests[2].url.query.decode())["after"] == ["3"]
    assert parse_contacts(pages, "northwind")["id"].to_list() == ["1", "2", "3", "4"]


def test_parse_contacts_types():
    frame = parse_contacts(
        [{"results": [contact(7, datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))]}], "t"
    )
    assert frame.schema == pl.Schema(RAW_COLUMNS["hubspot_contacts"])
    row = frame.row(0, named=True)
    assert row["lastmodifieddate"] == datetime(2026, 1, 2, 3, 4, 5, 678000)
    assert row["createdate"] == datetime(2025, 12, 1, 8)
    assert row["lead_date"] == datetime(2025, 12, 1, 8)
    assert row["customer_date"] is None
    assert row["archived"] is False
    assert row["email"] == "c7@example.com"


def test_parse_deals_amount_and_contact_association():
    deal = {
        "id": "55",
        "properties": {
            "dealname": "Big one", "amount": "1234.5", "dealstage": "closedwon", "pipeline": "default",
            "createdate": "2026-01-01T00:00:00Z", "closedate": "2026-01-20T12:00:00.000Z",
            "hs_lastmodifieddate": "2026-01-21T00:00:00.000+02:00",
        },
        "associations": {"contacts": {"results": [{"id": "7", "type": "deal_to_contact"}]}},
        "archived": False,
    }  # fmt: skip
    frame = parse_deals([{"results": [deal]}], "t")
    assert frame.schema == pl.Schema(RAW_COLUMNS["hubspot_deals"])
    row = frame.row(0, named=True)
    assert row["amount"] == Decimal("1234.50")
    assert row["contact_id"] == "7"
    assert row["closedate"] == datetime(2026, 1, 20, 12)
    assert row["lastmodifieddate"] == datetime(2026, 1, 20, 22)  # converted to UTC


def test_parse_keeps_latest_version_of_a_record():
    pages = [{"results": [contact(1, T0), contact(2, T0), contact(1, T0 + timedelta(hours=1))]}]
    frame = parse_contacts(pages, "t")
    assert frame["id"].to_list() == ["2", "1"]
    assert frame.filter(pl.col("id") == "1")["lastmodifieddate"].item() == datetime(2026, 1, 1, 1)


class FakeSearch:
    """POST /crm/v3/objects/contacts/search over fixed records: GTE/LT filters, ascending sort, offset
    `after`, and HubSpot's result window (an `after` at or beyond it is a 400)."""

    def __init__(self, records: list[dict], window: int) -> None:
        self.records, self.window = records, window
        self.bodies: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        filters = body["filterGroups"][0]["filters"]
        prop = body["sorts"][0]["propertyName"]

        def ms(r):
            return int(
                datetime.fromisoformat(r["properties"][prop].replace("Z", "+00:00")).timestamp() * 1000
            )

        rows = self.records
        for f in filters:
            v = int(f["value"])
            rows = [r for r in rows if (ms(r) >= v if f["operator"] == "GTE" else ms(r) < v)]
        rows = sorted(rows, key=lambda r: (ms(r), int(r["id"])))
        after = int(body.get("after", 0))
        if after >= self.window:
            return json_response(
                400, {"status": "error", "message": "paging past 10000", "category": "VALIDATION_ERROR"}
            )
        chunk = rows[after : after + body["limit"]]
        out = {"total": len(rows), "results": chunk}
        if after + body["limit"] < len(rows):
            out["paging"] = {"next": {"after": str(after + body["limit"])}}
        return json_response(200, out)


def test_search_modified_since_moves_window_and_dedupes(sleeps):
    # 23 records; several share a modified instant, so window restarts land in the middle of ties
    records = [contact(i, T0 + timedelta(minutes=i // 3)) for i in range(1, 24)]
    fake = FakeSearch(records, window=6)
    settings = HubSpotSettings(search_page_size=2, search_window=6)
    with hclient(httpx.MockTransport(fake), sleeps, settings=settings) as hs:
        pages = list(hs.search_modified_since("contacts", T0, ["email"]))
    ids = [r["id"] for p in pages for r in p.data["results"]]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 24)]
    assert len(ids) == len(set(ids))  # no duplicates across windows
    assert all("after" not in b or int(b["after"]) < 6 for b in fake.bodies)  # never asked past the window
    restarts = [b for b in fake.bodies[1:] if "after" not in b]
    assert restarts, "the window must have moved forward"
    first = fake.bodies[0]
    assert first["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert first["filterGroups"][0]["filters"] == [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(int(T0.timestamp() * 1000))}
    ]
    assert "lastmodifieddate" in first["properties"] and first["limit"] == 2
    frame = parse_contacts(pages, "t")
    assert frame.height == 23


def test_search_deals_uses_hs_lastmodifieddate(sleeps):
    script = Script(json_response(200, {"results": []}))
    with hclient(script, sleeps) as hs:
        list(hs.search_modified_since("deals", T0, ["dealname"], until=T0 + timedelta(days=1)))
    body = json.loads(script.requests[0].content)
    assert script.requests[0].url.path == "/crm/v3/objects/deals/search"
    assert [f["propertyName"] for f in body["filterGroups"][0]["filters"]] == ["hs_lastmodifieddate"] * 2
    assert [f["operator"] for f in body["filterGroups"][0]["filters"]] == ["GTE", "LT"]


def test_search_window_of_identical_timestamps_fails_clearly(sleeps):
    records = [contact(i, T0) for i in range(1, 10)]
    settings = HubSpotSettings(search_page_size=2, search_window=4)
    with (
        hclient(httpx.MockTransport(FakeSearch(records, 4)), sleeps, settings=settings) as hs,
        pytest.raises(PermanentError),
    ):
        list(hs.search_modified_since("contacts", T0, ["email"]))


def test_fetch_deals_modified_since_reads_associations(sleeps):
    deal = {
        "id": "55",
        "properties": {"dealname": "x", "amount": "10", "hs_lastmodifieddate": iso(T0)},
        "archived": False,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search"):
            return json_response(200, {"results": [deal]})
        assert request.url.path == "/crm/v4/associations/deals/contacts/batch/read"
        assert json.loads(request.content) == {"inputs": [{"id": "55"}]}
        return json_response(
            200, {"results": [{"from": {"id": "55"}, "to": [{"toObjectId": 7, "associationTypes": []}]}]}
        )

    with hclient(httpx.MockTransport(handler), sleeps) as hs:
        frame = hs.fetch_deals_modified_since(T0)
    assert frame["contact_id"].to_list() == ["7"]
    assert frame["amount"].to_list() == [Decimal("10.00")]


def rate_limited(policy: str) -> httpx.Response:
    return json_response(
        429,
        {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
         "correlationId": "corr-1", "policyName": policy},
    )  # fmt: skip


def test_429_rate_limit_retried(sleeps):
    script = Script(rate_limited("TEN_SECONDLY_ROLLING"), json_response(200, {"results": []}))
    with hclient(script, sleeps) as hs:
        list(hs.iter_objects("contacts", ["email"]))
    assert script.calls == 2
    assert len(sleeps) == 1


def test_daily_limit_not_retried(sleeps):
    script = Script(rate_limited("DAILY"))
    with hclient(script, sleeps) as hs, pytest.raises(RateLimitedError) as ei:
        list(hs.iter_objects("contacts", ["email"]))
    assert script.calls == 1
    assert ei.value.request_id == "corr-1"
    assert ei.value.code == "RATE_LIMIT/DAILY"


def test_401_not_retried_and_redacted(sleeps):
    body = {
        "status": "error",
        "message": f"Authentication credentials not found. token={TOKEN}",
        "category": "INVALID_AUTHENTICATION",
    }
    script = Script(json_response(401, body))
    with hclient(script, sleeps) as hs, pytest.raises(AuthError) as ei:
        list(hs.iter_objects("contacts", ["email"]))
    assert script.calls == 1
    assert TOKEN not in str(ei.value) and TOKEN not in repr(ei.value)


def test_pacing_from_rate_limit_headers(sleeps):
    headers = {"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    script = Script(json_response(200, {"results": []}, headers))
    settings = HubSpotSettings(pacing=HubSpotPacing(reserve=4, max_sleep=60))
    with hclient(script, sleeps, settings=settings) as hs:
        list(hs.iter_objects("contacts", ["email"]))
    assert sleeps == [pytest.approx(10.0)]


def test_bad_object_type_rejected(sleeps):
    with hclient(Script(json_response(200, {})), sleeps) as hs, pytest.raises(ValueError):
        list(hs.iter_objects("../deals", ["x"]))


def test_associations_fall_back_to_object_reads_when_batch_endpoint_missing(sleeps):
    deal = {
        "id": "55",
        "properties": {"dealname": "x", "amount": "10", "hs_lastmodifieddate": iso(T0)},
        "archived": False,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/search"):
            return json_response(200, {"results": [deal]})
        if path.startswith("/crm/v4/"):
            return json_response(
                404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}
            )
        assert path == "/crm/v3/objects/deals/55"
        assert parse_qs(request.url.query.decode())["associations"] == ["contacts"]
        return json_response(
            200, {**deal, "associations": {"contacts": {"results": [{"id": "8", "type": "deal_to_contact"}]}}}
        )

    with hclient(httpx.MockTransport(handler), sleeps) as hs:
        frame = hs.fetch_deals_modified_since(T0)
    assert frame["contact_id"].to_list() == ["8"]
