"""HubSpot connector against a scripted CRM v3 API (and a small fake search with a result window)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import polars as pl
import pytest

from connectors.contracts import RAW_COLUMNS, frame_from_columns
from connectors.drift import ParseReport, RowIssues, missing_fields, new_fields, number_column
from connectors.errors import AuthError, PermanentError, RateLimitedError
from connectors.http import RetryPolicy
from connectors.hubspot import (
    _DEFAULT_PROPERTIES,
    _KNOWN_KEYS,
    _LIFECYCLE_DATES,
    CONTACT_PROPERTIES,
    DEAL_PROPERTIES,
    HubSpotClient,
    HubSpotPacing,
    HubSpotSettings,
    _latest_per_id,
    _opted_in,
    _results,
    _str,
    _with_fallback,
    associated_ids,
    parse_contacts,
    parse_deals,
)
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


# ---- the columnar parsers against the per-record parsers they replaced --------------------------------
# `reference_contacts` / `reference_deals` are the parsers as they were before the Arrow path (verbatim
# but for names): every record's dicts kept, each column a comprehension, `_drift` over all records.
def _reference_drift(records, props, asked, required, source, report, issues):
    keys: set[str] = set()
    for record in records:
        keys.update(record.keys())
    new_fields(keys, _KNOWN_KEYS, source=source, report=report)
    if asked is None:
        return
    names: set[str] = set()
    for p in props:
        names.update(p.keys())
    expected = {f"properties.{n}" for n in {*asked, *_DEFAULT_PROPERTIES}}
    new_fields({f"properties.{n}" for n in names}, expected, source=source, report=report)
    wanted = [("properties", name) for name in required if name in asked]
    wanted = [w for w in wanted if not all(type(p) is dict and w[1] in p for p in props)]
    if wanted:
        missing_fields(records, wanted, source=source, report=report, issues=issues)


def reference_contacts(pages, tenant_id, *, properties=None, settings=None, report=None):
    settings = settings or HubSpotSettings()
    consent = settings.consent
    records = list(_results(pages))
    props = [r.get("properties") or {} for r in records]
    issues = RowIssues()
    required = settings.required_properties.get("contacts", ())
    _reference_drift(records, props, properties, required, "hubspot_contacts", report, issues)
    columns = {
        "tenant_id": [tenant_id] * len(records),
        "id": [_str(r.get("id")) for r in records],
        "email": [p.get("email") for p in props],
        "firstname": [p.get("firstname") for p in props],
        "lastname": [p.get("lastname") for p in props],
        "lifecyclestage": [p.get("lifecyclestage") for p in props],
        "anonymous_id": [p.get("anonymous_id") for p in props],
        "createdate": _with_fallback(props, "createdate", records, "createdAt"),
        "lastmodifieddate": _with_fallback(props, "lastmodifieddate", records, "updatedAt"),
        "archived": [bool(r.get("archived", False)) for r in records],
        "marketing_opt_in": [_opted_in(p, consent) for p in props],
        "opt_in_date": [p.get(consent.opt_in_date) for p in props],
        "opt_out_date": [p.get(consent.opt_out_date) for p in props],
        "archived_at": [r.get("archivedAt") for r in records],
    }
    for col, prop in _LIFECYCLE_DATES.items():
        columns[col] = [p.get(prop) for p in props]
    ts = ("createdate", "lastmodifieddate", *_LIFECYCLE_DATES, "opt_in_date", "opt_out_date", "archived_at")
    frame = issues.mark(frame_from_columns("hubspot_contacts", columns, timestamp_strings=ts))
    return _latest_per_id(frame, report)


def reference_deals(pages, tenant_id, *, properties=None, settings=None, report=None):
    settings = settings or HubSpotSettings()
    records = list(_results(pages))
    props = [r.get("properties") or {} for r in records]
    issues = RowIssues()
    required = settings.required_properties.get("deals", ())
    _reference_drift(records, props, properties, required, "hubspot_deals", report, issues)
    contact_ids = []
    for r in records:
        contacts = associated_ids(r, "contacts")
        contact_ids.append(contacts[0] if contacts else None)
    columns = {
        "tenant_id": [tenant_id] * len(records),
        "id": [_str(r.get("id")) for r in records],
        "contact_id": contact_ids,
        "dealname": [p.get("dealname") for p in props],
        "amount": number_column(
            "amount", [p.get("amount") for p in props], "money",
            source="hubspot_deals", report=report, issues=issues,
        ),
        "dealstage": [p.get("dealstage") for p in props],
        "pipeline": [p.get("pipeline") for p in props],
        "createdate": _with_fallback(props, "createdate", records, "createdAt"),
        "closedate": [p.get("closedate") for p in props],
        "lastmodifieddate": _with_fallback(props, "hs_lastmodifieddate", records, "updatedAt"),
        "archived": [bool(r.get("archived", False)) for r in records],
    }  # fmt: skip
    ts = ("createdate", "closedate", "lastmodifieddate")
    frame = issues.mark(frame_from_columns("hubspot_deals", columns, timestamp_strings=ts))
    return _latest_per_id(frame, report)


def assert_same_parse(parse, reference, pages, properties, settings=None):
    """Same frame (values, dtypes, quarantine marks), same drift events in the same order, same
    duplicate count, for the pages as given (an ungiven `properties` skips the property checks)."""
    mine, theirs = ParseReport(), ParseReport()
    got = parse(pages, "t1", properties=properties, settings=settings, report=mine)
    want = reference(pages, "t1", properties=properties, settings=settings, report=theirs)
    assert got.schema == want.schema
    assert got.equals(want), (got, want)
    assert got.rows() == want.rows()
    assert (mine.drift, mine.duplicates) == (theirs.drift, theirs.duplicates)
    return got, mine


ODD_TIMES = [
    "2026-01-02T03:04:05.678Z",  # HubSpot's own form (fixed-format fast path)
    "2026-01-02T03:04:05Z",  # no millis
    "2026-01-02T03:04:05.678+02:00",  # offset
    "2026-01-02 03:04:05",  # space, no zone
    "1767322800000",  # epoch millis
    "2026-01-02",  # a date
    "",  # empty: falls back to createdAt / updatedAt where the parser does
    " 2026-01-02T03:04:05.000Z ",  # padded
    "2026-02-30T00:00:00.000Z",  # impossible date in the fast form
    "not a date",
    None,
]


def odd_contact(i: int) -> dict:
    record = contact(i, T0 + timedelta(minutes=i))
    props = record["properties"]
    props["createdate"] = ODD_TIMES[i % len(ODD_TIMES)]
    props["hs_lifecyclestage_customer_date"] = ODD_TIMES[(i * 3) % len(ODD_TIMES)]
    props["email"] = ["", None, f"c{i}@example.com", "Ünïcödé@example.com"][i % 4]
    props["hs_email_optout"] = ["true", " TRUE ", "false", None, "False"][i % 5]
    props["hs_legal_basis"] = [None, "Freely given consent from contact", "Legitimate interest", ""][i % 4]
    props["marketing_opt_in_date"] = ODD_TIMES[(i * 7) % len(ODD_TIMES)]
    if i % 6 == 0:
        del props["lifecyclestage"]  # required: the record is marked
    if i % 10 == 0:
        props["brand_new_property"] = "x"  # drift: a property nobody asked for
    if i % 7 == 0:
        record["archived"] = True
        record["archivedAt"] = ODD_TIMES[i % len(ODD_TIMES)]
    if i % 9 == 0:
        record["propertiesWithHistory"] = {}  # drift: a key nobody asked for
    return record


def odd_deal(i: int) -> dict:
    deal = {
        "id": str(1000 + i % 40),  # repeats: the latest version of an id is kept
        "properties": {
            "dealname": f"deal {i}", "amount": ["1234.5", "1,234.50", "1.234,50", "", None, "12,345", "abc"][i % 7],
            "dealstage": "closedwon", "pipeline": "default", "createdate": ODD_TIMES[i % len(ODD_TIMES)],
            "closedate": ODD_TIMES[(i * 5) % len(ODD_TIMES)],
            "hs_lastmodifieddate": ODD_TIMES[(i * 2) % len(ODD_TIMES)],
        },
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": iso(T0 + timedelta(minutes=i)),
        "associations": [
            {"contacts": {"results": [{"id": "7", "type": "deal_to_contact"}, {"id": "8"}]}},
            {"contacts": {"results": [{"toObjectId": 9}, {"id": "7"}]}},
            {"contacts": {"results": [{"id": None, "toObjectId": 3}, {"id": "5"}]}},
            {"contacts": {"results": []}},
            {},
        ][i % 5],
    }  # fmt: skip
    if i % 8 == 0:
        del deal["properties"]["dealstage"]
    return deal


def test_columnar_parsers_match_per_record_parsers_on_odd_values():
    contacts = [odd_contact(i) for i in range(130)]
    deals = [odd_deal(i) for i in range(130)]
    for records, parse, reference, props in (
        (contacts, parse_contacts, reference_contacts, CONTACT_PROPERTIES),
        (deals, parse_deals, reference_deals, DEAL_PROPERTIES),
    ):
        pages = [{"results": records[i : i + 25]} for i in range(0, len(records), 25)]
        for asked in (props, None):
            _, report = assert_same_parse(parse, reference, pages, asked)
        assert report.duplicates == (0 if parse is parse_contacts else 90)
        # A page the Arrow path refuses (an id sent as a number, a boolean property, a non-bool
        # `archived`) goes through the per-record builder between pages that do not.
        odd = [dict(r) for r in records[25:50]]
        odd[3]["id"] = 123456
        odd[5] = {**odd[5], "properties": {**odd[5]["properties"], "dealname": True, "email": 5}}
        odd[7]["archived"] = "false"
        mixed = [pages[0], {"results": odd}, pages[2], {"results": []}, pages[3]]
        assert_same_parse(parse, reference, mixed, props)
        # Records without `properties` (null or absent) and an empty read.
        bare = [{"id": "1", "properties": None, "createdAt": ODD_TIMES[0]}, {"id": "2", "updatedAt": "x"}]
        assert_same_parse(parse, reference, [{"results": bare}], props)
        assert_same_parse(parse, reference, [{"results": []}, {}], props)


def test_columnar_parsers_report_drift_and_marks_like_before():
    frame, report = assert_same_parse(
        parse_contacts,
        reference_contacts,
        [{"results": [odd_contact(i) for i in range(12)]}],
        CONTACT_PROPERTIES,
    )
    assert frame.filter(pl.col("_quarantine_field") == "properties.lifecyclestage")["id"].to_list() == [
        "0",
        "6",
    ]
    kinds = {(e.kind, e.column) for e in report.drift}
    assert ("new_column", "properties.brand_new_property") in kinds and (
        "new_column",
        "propertiesWithHistory",
    ) in kinds
    assert ("missing_column", "properties.lifecyclestage") in kinds
    # The fast timestamp form and the general one agree on the instant.
    row = frame.filter(pl.col("id") == "11").row(0, named=True)
    assert row["createdate"] == datetime(2026, 1, 2, 3, 4, 5, 678000)  # ODD_TIMES[0]
    assert frame.filter(pl.col("id") == "2")["createdate"].item() == datetime(2026, 1, 2, 1, 4, 5, 678000)


def test_columnar_parsers_match_per_record_parsers_on_the_sandbox(tmp_path_factory):
    sandbox_api = pytest.importorskip("connectors.sandbox.api")
    from connectors.sandbox.generator import ensure_world
    from connectors.sandbox.state import SandboxState

    state = SandboxState(ensure_world("tiny", 7, tmp_path_factory.mktemp("hubspot-world")))
    transport = sandbox_api.SandboxAPI(state).transport()
    tenants = sorted(state.world.tenants["tenant_id"].to_list())
    total = 0
    for tenant in tenants[:2]:
        with HubSpotClient(f"sandbox-{tenant}", transport=transport, tenant_id=tenant) as client:
            contact_pages = list(client.iter_objects("contacts", CONTACT_PROPERTIES))
            deal_pages = list(client.iter_objects("deals", DEAL_PROPERTIES, associations=("contacts",)))
        frame, _ = assert_same_parse(parse_contacts, reference_contacts, contact_pages, CONTACT_PROPERTIES)
        assert frame["createdate"].null_count() == 0 and frame["email"].null_count() < frame.height
        frame, _ = assert_same_parse(parse_deals, reference_deals, deal_pages, DEAL_PROPERTIES)
        assert frame["amount"].null_count() < frame.height and frame["contact_id"].null_count() < frame.height
        total += frame.height
    assert total > 0
