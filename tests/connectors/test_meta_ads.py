"""Meta Ads connector against a scripted Graph API."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import polars as pl
import pytest

from connectors.contracts import RAW_COLUMNS
from connectors.drift import QUARANTINE_FIELD, QUARANTINE_REASON, ParseReport
from connectors.errors import AuthError, PermanentError, RateLimitedError, WriteNotRetriedError
from connectors.http import RetryPolicy
from connectors.landing import LandingZone, read_meta, read_page
from connectors.meta_ads import (
    MetaAdsClient,
    MetaPacing,
    MetaSettings,
    classify_meta,
    parse_ads,
    parse_adsets,
    parse_campaigns,
    parse_insights,
    parse_usage,
)
from tests.connectors.mock_api import Script, json_response

TOKEN = "EAAB-meta-secret-token-xyz"
BASE = "https://graph.facebook.com/v21.0"


def insight(ad_id: str, day: str, spend: str, *, purchases: str | None = "3", value: str | None = "120.50"):
    row = {
        "account_id": "111",
        "account_currency": "USD",
        "campaign_id": "201",
        "campaign_name": "Prospecting",
        "adset_id": "301",
        "adset_name": "Broad",
        "ad_id": ad_id,
        "ad_name": f"Ad {ad_id}",
        "spend": spend,
        "impressions": "1000",
        "clicks": "25",
        "date_start": day,
        "date_stop": day,
    }
    if purchases is not None:
        row["actions"] = [
            {"action_type": "link_click", "value": "25"},
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": purchases},
        ]
    if value is not None:
        row["action_values"] = [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": value}]
    return row


def page(rows, next_after: str | None):
    body = {"data": rows, "paging": {"cursors": {"before": "b", "after": next_after or "end"}}}
    if next_after:
        body["paging"]["next"] = f"{BASE}/act_111/insights?access_token={TOKEN}&limit=2&after={next_after}"
    return body


def meta_client(script: Script, sleeps, **kw) -> MetaAdsClient:
    kw.setdefault("retry", RetryPolicy(max_attempts=4))
    return MetaAdsClient(
        TOKEN, "act_111", transport=script.transport, tenant_id="northwind", sleep=sleeps, **kw
    )


def test_paging_follows_next_until_absent_not_on_short_page(sleeps):
    script = Script(
        json_response(
            200, page([insight("1", "2026-01-01", "10.00"), insight("2", "2026-01-01", "5.5")], "c1")
        ),
        json_response(200, page([insight("3", "2026-01-01", "1.00")], "c2")),  # short page, but next present
        json_response(200, page([], "c3")),  # empty page, next still present
        json_response(200, page([insight("4", "2026-01-02", "0.01")], None)),
    )
    with meta_client(script, sleeps) as meta:
        pages = list(meta.iter_insights_pages(date(2026, 1, 1), date(2026, 1, 2), limit=2))
    assert len(pages) == 4
    assert script.calls == 4
    first = script.requests[0]
    q = parse_qs(first.url.query.decode())
    assert first.url.path == "/v21.0/act_111/insights"
    assert q["level"] == ["ad"]
    assert q["time_increment"] == ["1"]
    assert json.loads(q["time_range"][0]) == {"since": "2026-01-01", "until": "2026-01-02"}
    assert "spend" in q["fields"][0].split(",")
    assert q["limit"] == ["2"]
    assert "after=c1" in str(script.requests[1].url)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in script.requests)
    frame = meta.parse_insights(pages)
    assert frame["ad_id"].to_list() == ["1", "2", "3", "4"]


def test_parse_insights_exact():
    body = {"data": [insight("9", "2026-01-31", "53.39", purchases="3", value="120.50")]}
    frame = parse_insights([body], "northwind")
    assert frame.schema == pl.Schema(RAW_COLUMNS["meta_ads_insights"])
    row = frame.row(0, named=True)
    assert row["spend"] == Decimal("53.39")
    assert row["conversion_value"] == Decimal("120.50")
    assert row["conversions"] == 3.0
    assert row["impressions"] == 1000 and row["clicks"] == 25
    assert row["date_start"] == date(2026, 1, 31)
    assert row["account_id"] == "111"
    assert row["tenant_id"] == "northwind"
    assert json.loads(row["actions"])[1] == {
        "action_type": "offsite_conversion.fb_pixel_purchase",
        "value": "3",
    }


def test_parse_insights_sums_exactly_without_float_drift():
    rows = [insight(str(i), "2026-01-01", "0.10") for i in range(10)]
    frame = parse_insights([{"data": rows}], "t")
    assert frame["spend"].sum() == Decimal("1.00")


def test_conversions_configurable_and_no_double_count():
    row = insight("1", "2026-01-01", "1.00", purchases=None, value=None)
    row["actions"] = [
        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "2"},
        {"action_type": "purchase", "value": "2"},  # Meta reports the same purchases twice
        {"action_type": "lead", "value": "7"},
    ]
    row["action_values"] = [{"action_type": "purchase", "value": "99.99"}]
    first = parse_insights([{"data": [row]}], "t")
    assert first["conversions"].item() == 2.0
    assert first["conversion_value"].item() == Decimal("99.99")  # falls through to the next listed type
    summed = parse_insights(
        [{"data": [row]}],
        "t",
        settings=MetaSettings(conversion_action_types=("purchase", "lead"), conversion_aggregation="sum"),
    )
    assert summed["conversions"].item() == 9.0


def test_missing_actions_give_zero_conversions():
    frame = parse_insights([{"data": [insight("1", "2026-01-01", "3.00", purchases=None, value=None)]}], "t")
    assert frame["conversions"].item() == 0.0
    assert frame["conversion_value"].item() == Decimal("0.00")
    assert frame["actions"].item() is None


def test_empty_parse_has_schema():
    frame = parse_insights([{"data": []}], "t")
    assert frame.height == 0
    assert frame.schema == pl.Schema(RAW_COLUMNS["meta_ads_insights"])


def test_unexpected_page_shape():
    with pytest.raises(PermanentError):
        parse_insights([{"nodata": 1}], "t")


def throttle(code: int, subcode: int | None = None, regain_minutes: int | None = None, status: int = 400):
    err = {
        "message": "(#17) User request limit reached",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf",
    }
    if subcode:
        err["error_subcode"] = subcode
    headers = {}
    if regain_minutes is not None:
        headers["x-business-use-case-usage"] = json.dumps(
            {"111": [{"type": "ads_insights", "call_count": 100, "total_cputime": 40, "total_time": 40,
                      "estimated_time_to_regain_access": regain_minutes}]}
        )  # fmt: skip
    return json_response(status, {"error": err}, headers)


@pytest.mark.parametrize(
    ("code", "subcode"),
    [(17, 2446079), (4, None), (32, None), (613, 1487742), (80000, None), (80004, 2446079), (80014, None)],
)
def test_throttle_bodies_are_retried(code, subcode, sleeps):
    script = Script(
        throttle(code, subcode), json_response(200, page([insight("1", "2026-01-01", "1.00")], None))
    )
    with meta_client(script, sleeps) as meta:
        frame = meta.fetch_insights("2026-01-01", "2026-01-01")
    assert frame.height == 1
    assert script.calls == 2
    assert len(sleeps) == 1


def test_throttle_waits_estimated_time_to_regain_access_capped(sleeps):
    script = Script(
        throttle(80004, regain_minutes=1),
        throttle(80004, regain_minutes=30),
        json_response(200, page([], None)),
    )
    with meta_client(script, sleeps, retry=RetryPolicy(max_attempts=4, max_retry_after=120)) as meta:
        list(meta.iter_insights_pages("2026-01-01", "2026-01-01"))
    assert sleeps == [60.0, 120.0]


def test_throttle_gives_up_with_rate_limited_error(sleeps):
    script = Script(throttle(17, 2446079))
    with (
        meta_client(script, sleeps, retry=RetryPolicy(max_attempts=3)) as meta,
        pytest.raises(RateLimitedError) as ei,
    ):
        meta.fetch_insights("2026-01-01", "2026-01-01")
    assert script.calls == 3
    assert ei.value.code == "17/2446079"
    assert ei.value.request_id == "AbCdEf"
    assert TOKEN not in str(ei.value) and TOKEN not in repr(ei.value)


def test_invalid_token_is_auth_error_not_retried(sleeps):
    body = {
        "error": {
            "message": "Invalid OAuth access token.",
            "type": "OAuthException",
            "code": 190,
            "fbtrace_id": "X",
        }
    }
    script = Script(json_response(400, body))
    with meta_client(script, sleeps) as meta, pytest.raises(AuthError):
        meta.fetch_insights("2026-01-01", "2026-01-01")
    assert script.calls == 1


def test_invalid_parameter_not_retried(sleeps):
    body = {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}
    script = Script(json_response(400, body))
    with meta_client(script, sleeps) as meta, pytest.raises(PermanentError) as ei:
        meta.fetch_insights("2026-01-01", "2026-01-01")
    assert script.calls == 1
    assert "Invalid parameter" in str(ei.value)


def test_transient_code_retried(sleeps):
    body = {"error": {"message": "Service temporarily unavailable", "code": 2, "is_transient": True}}
    script = Script(json_response(500, body), json_response(200, page([], None)))
    with meta_client(script, sleeps) as meta:
        list(meta.iter_insights_pages("2026-01-01", "2026-01-01"))
    assert script.calls == 2


def test_usage_headers_and_pacing(sleeps):
    headers = {
        "x-app-usage": json.dumps({"call_count": 90, "total_cputime": 10, "total_time": 10}),
        "x-ad-account-usage": json.dumps({"acc_id_util_pct": 50, "reset_time_duration": 0}),
    }
    usage = parse_usage(httpx.Headers(headers))
    assert usage.max_pct == 90
    assert usage.regain_seconds is None
    script = Script(json_response(200, page([], None), headers))
    settings = MetaSettings(pacing=MetaPacing(threshold_pct=80, max_sleep=10))
    with meta_client(script, sleeps, settings=settings) as meta:
        list(meta.iter_insights_pages("2026-01-01", "2026-01-01"))
    assert sleeps == [pytest.approx(5.0)]


def test_classify_meta_ignores_success_and_non_graph_bodies():
    ok = httpx.Response(200, json={"data": []})
    assert classify_meta(ok) is None
    assert classify_meta(httpx.Response(502, content=b"<html>bad gateway</html>")) is None


def test_landing_pages_and_redacted_sidecars(tmp_path, sleeps):
    script = Script(
        json_response(200, page([insight("1", "2026-01-01", "1.00")], "c1"), {"x-fb-trace-id": "TRACE1"}),
        json_response(200, page([insight("2", "2026-01-01", "2.00")], None)),
    )
    landing = LandingZone(tmp_path)
    with meta_client(script, sleeps, landing=landing) as meta:
        pages = list(meta.iter_insights_pages("2026-01-01", "2026-01-01"))
    paths = [p.landing_path for p in pages]
    assert paths == [
        tmp_path / "meta_ads_insights/northwind/2026-01-01/00000.json.gz",
        tmp_path / "meta_ads_insights/northwind/2026-01-01/00001.json.gz",
    ]
    assert json.loads(read_page(paths[0]))["data"][0]["spend"] == "1.00"
    meta0 = read_meta(paths[0])
    assert meta0["status"] == 200 and meta0["method"] == "GET" and meta0["request_id"] == "TRACE1"
    meta1 = read_meta(paths[1])
    assert "access_token=***" in meta1["url"]  # the paging link carried the token
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert TOKEN.encode() not in f.read_bytes()
    # a shorter re-run overwrites and removes stale pages
    script2 = Script(json_response(200, page([insight("3", "2026-01-01", "3.00")], None)))
    with meta_client(script2, sleeps, landing=landing) as meta:
        list(meta.iter_insights_pages("2026-01-01", "2026-01-01"))
    assert sorted(p.name for p in (tmp_path / "meta_ads_insights/northwind/2026-01-01").iterdir()) == [
        "00000.json.gz",
        "00000.meta.json",
    ]


def test_entities_parse():
    campaigns = parse_campaigns(
        [{"data": [{"id": "201", "name": "C", "status": "ACTIVE", "objective": "OUTCOME_SALES"}]}],
        "t", "act_111", snapshot_date=date(2026, 2, 1),
    )  # fmt: skip
    assert campaigns.columns == [*RAW_COLUMNS["meta_ads_campaigns"], "_snapshot_date"]
    assert campaigns.row(0) == ("t", "111", "201", "C", "ACTIVE", "OUTCOME_SALES", date(2026, 2, 1))
    adsets = parse_adsets(
        [{"data": [{"id": "301", "campaign_id": "201", "name": "A", "status": "PAUSED", "daily_budget": "2000",
                    "bid_strategy": "COST_CAP", "bid_amount": "1500"}]}],
        "t", "111",
    )  # fmt: skip
    assert adsets.schema == pl.Schema(RAW_COLUMNS["meta_ads_adsets"])
    assert adsets.row(0, named=True)["daily_budget"] == 2000
    assert adsets.row(0, named=True)["bid_amount"] == 1500
    ads = parse_ads(
        [{"data": [{"id": "401", "adset_id": "301", "campaign_id": "201", "name": "X", "status": "ACTIVE",
                    "created_time": "2026-01-05T10:00:00+0000"}]}],
        "t", "111",
    )  # fmt: skip
    assert ads.schema == pl.Schema(RAW_COLUMNS["meta_ads_ads"])
    assert ads.row(0, named=True)["created_time"] == datetime(2026, 1, 5, 10, 0)


def _drift(report: ParseReport) -> set[tuple[str, str]]:
    return {(e.kind, e.column) for e in report.drift}


def _adset(id_: str, **fields) -> dict:
    row = {"id": id_, "campaign_id": "201", "name": f"A{id_}", "status": "ACTIVE", "daily_budget": "1500",
           "bid_strategy": "COST_CAP", "bid_amount": 4694}  # fmt: skip
    row.update(fields)
    return {k: v for k, v in row.items() if v is not ...}


def test_adsets_budgets_sent_as_text_read_exactly_and_reported():
    """Meta sends daily_budget as minor-unit text ("1500" = 15.00) and bid_amount as a JSON integer:
    formatted budgets and a bid in text are read to the exact minor unit, and reported as drift."""
    report = ParseReport()
    pages = [
        {"data": [_adset("301", daily_budget="1,500"), _adset("302", daily_budget="2.100,0", bid_amount="4,694")]},
        {"data": [_adset("303", daily_budget="987654", bid_amount=12)]},
    ]  # fmt: skip
    frame = parse_adsets(pages, "t", "111", report=report)
    assert frame.schema == pl.Schema(RAW_COLUMNS["meta_ads_adsets"])  # nothing marked: no quarantine columns
    assert frame["daily_budget"].to_list() == [1500, 2100, 987654]
    assert frame["bid_amount"].to_list() == [4694, 4694, 12]
    assert _drift(report) == {("type_changed", "daily_budget"), ("type_changed", "bid_amount")}


def test_adsets_plain_wire_numbers_are_no_drift():
    report = ParseReport()
    frame = parse_adsets(
        [{"data": [_adset("301"), _adset("302", daily_budget=None)]}], "t", "111", report=report
    )
    assert frame["daily_budget"].to_list() == [1500, None]
    assert report.drift == []


def test_adsets_missing_field_and_unreadable_budget_are_quarantined_with_reason():
    report = ParseReport()
    pages = [{"data": [
        _adset("301"),
        _adset("302", campaign_id=...),  # the parent is absent: not loaded with a null parent
        _adset("303", daily_budget="15.5"),  # not a whole number of minor units: never rounded
        _adset("304", targeting_optimization_types=[]),
    ]}]  # fmt: skip
    frame = parse_adsets(pages, "t", "111", report=report)
    marked = frame.filter(pl.col(QUARANTINE_REASON).is_not_null())
    assert marked["id"].to_list() == ["302", "303"]
    assert marked[QUARANTINE_FIELD].to_list() == ["campaign_id", "daily_budget"]
    assert marked[QUARANTINE_REASON].to_list() == [
        "meta_ads_adsets: field campaign_id absent from the platform's answer (schema drift)",
        "meta_ads_adsets: daily_budget '15.5' is not a whole number",
    ]
    good = frame.filter(pl.col(QUARANTINE_REASON).is_null())
    assert good["id"].to_list() == ["301", "304"] and good["daily_budget"].to_list() == [1500, 1500]
    assert _drift(report) == {
        ("missing_column", "campaign_id"),
        ("new_column", "targeting_optimization_types"),
    }


def test_campaigns_and_ads_report_drift_and_quarantine():
    report = ParseReport()
    campaigns = parse_campaigns(
        [{"data": [{"id": "201", "name": "C", "status": "ACTIVE", "objective": "OUTCOME_SALES",
                    "special_ad_categories": []},
                   {"id": "202", "name": "D", "objective": "OUTCOME_SALES"}]}],
        "t", "111", snapshot_date=date(2026, 2, 1), report=report,
    )  # fmt: skip
    assert campaigns.columns[-1] == "_snapshot_date"  # the snapshot day stays load metadata, last
    assert campaigns.filter(pl.col(QUARANTINE_REASON).is_not_null())["id"].to_list() == ["202"]
    assert campaigns[QUARANTINE_FIELD].to_list() == [None, "status"]
    assert _drift(report) == {("new_column", "special_ad_categories"), ("missing_column", "status")}
    report = ParseReport()
    ads = parse_ads(
        [{"data": [{"id": "401", "campaign_id": "201", "name": "X", "status": "ACTIVE",
                    "created_time": "2026-01-05T10:00:00+0000"}]}],
        "t", "111", report=report,
    )  # fmt: skip
    assert ads[QUARANTINE_FIELD].to_list() == ["adset_id"]
    assert ads[QUARANTINE_REASON].to_list() == [
        "meta_ads_ads: field adset_id absent from the platform's answer (schema drift)"
    ]
    assert _drift(report) == {("missing_column", "adset_id")}


def test_client_listings_report_into_the_client(sleeps):
    script = Script(json_response(200, {"data": [_adset("301", daily_budget="12,345", quality="x")]}))
    with meta_client(script, sleeps) as meta:
        frame = meta.list_adsets()
        drift, _ = meta.report.take()
    assert frame["daily_budget"].to_list() == [12345]
    assert {(e.kind, e.column) for e in drift} == {
        ("type_changed", "daily_budget"),
        ("new_column", "quality"),
    }


def test_list_campaigns_pages(sleeps):
    script = Script(
        json_response(200, {"data": [{"id": "1", "name": "a", "status": "ACTIVE"}], "paging": {"next": f"{BASE}/act_111/campaigns?after=x"}}),
        json_response(200, {"data": [{"id": "2", "name": "b", "status": "PAUSED"}], "paging": {"cursors": {}}}),
    )  # fmt: skip
    with meta_client(script, sleeps) as meta:
        frame = meta.list_campaigns()
    assert frame["id"].to_list() == ["1", "2"]
    assert script.requests[0].url.path == "/v21.0/act_111/campaigns"


def test_update_object_form_body_and_idempotency_key(sleeps):
    script = Script(httpx.ReadTimeout("t"), json_response(200, {"success": True}))
    with meta_client(script, sleeps) as meta:
        out = meta.update_object("301", status="PAUSED", daily_budget_minor=2500, idempotency_key="k-1")
    assert out == {"success": True}
    assert script.calls == 2
    for req in script.requests:
        assert req.method == "POST" and req.url.path == "/v21.0/301"
        assert req.headers["x-idempotency-key"] == "k-1"
        assert parse_qs(req.content.decode()) == {"status": ["PAUSED"], "daily_budget": ["2500"]}


def test_update_object_without_key_not_retried_on_timeout(sleeps):
    script = Script(httpx.ReadTimeout("t"), json_response(200, {"success": True}))
    with meta_client(script, sleeps) as meta, pytest.raises(WriteNotRetriedError):
        meta.update_object("301", status="PAUSED")
    assert script.calls == 1


def test_update_object_validates_input(sleeps):
    with meta_client(Script(json_response(200, {})), sleeps) as meta:
        with pytest.raises(ValueError):
            meta.update_object("301")
        with pytest.raises(ValueError):
            meta.update_object("301", status="DELETED_FOREVER")
        with pytest.raises(ValueError):
            meta.update_object("../act_1", status="PAUSED")
        with pytest.raises(ValueError):
            meta.update_object("301", daily_budget_minor=-5)


def test_get_object_reads_back(sleeps):
    script = Script(json_response(200, {"id": "301", "status": "PAUSED", "daily_budget": "2500"}))
    with meta_client(script, sleeps) as meta:
        assert meta.get_object("301", ["id", "status", "daily_budget"])["daily_budget"] == "2500"
    assert parse_qs(script.requests[0].url.query.decode())["fields"] == ["id,status,daily_budget"]


def test_async_report_flow(sleeps):
    script = Script(
        json_response(200, {"report_run_id": "9001"}),
        json_response(200, {"id": "9001", "async_status": "Job Running", "async_percent_completion": 40}),
        json_response(200, {"id": "9001", "async_status": "Job Completed", "async_percent_completion": 100}),
        json_response(200, page([insight("1", "2026-01-01", "4.20")], None)),
    )
    with meta_client(script, sleeps) as meta:
        frame = meta.parse_insights(meta.iter_async_insights_pages("2026-01-01", "2026-01-31"))
    assert frame["spend"].to_list() == [Decimal("4.20")]
    assert [r.url.path for r in script.requests] == [
        "/v21.0/act_111/insights", "/v21.0/9001", "/v21.0/9001", "/v21.0/9001/insights",
    ]  # fmt: skip
    assert sleeps == [MetaSettings().async_poll_interval]


def test_empty_token_rejected():
    with pytest.raises(AuthError):
        MetaAdsClient("", "111")
