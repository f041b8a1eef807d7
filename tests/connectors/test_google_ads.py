"""Google Ads connector against a scripted REST API."""

from __future__ import annotations

import json
from datetime import date

import httpx
import polars as pl
import pytest

from connectors.contracts import RAW_COLUMNS
from connectors.drift import QUARANTINE_FIELD, QUARANTINE_REASON, ParseReport
from connectors.errors import AuthError, PermanentError, RateLimitedError, WriteNotRetriedError
from connectors.google_ads import (
    AD_DAILY_STATS_GAQL,
    GoogleAdsClient,
    parse_ad_groups,
    parse_ad_stats,
    parse_ads,
    parse_campaigns,
    parse_google_error,
)
from connectors.http import RetryPolicy
from connectors.landing import LandingZone, read_meta
from tests.connectors.mock_api import Script, json_response

ACCESS = "ya29.google-access-SECRET"
DEV = "devtoken-SECRET-abc"


def stat(ad_id: str, day: str, cost: str | None, **metrics):
    m = {"impressions": "900", "clicks": "10", "conversions": 1.5, "conversionsValue": 80.0, **metrics}
    if cost is not None:
        m["costMicros"] = cost
    return {
        "customer": {"resourceName": "customers/1234567890", "currencyCode": "EUR"},
        "campaign": {"resourceName": "customers/1234567890/campaigns/2", "id": "2", "name": "Search"},
        "adGroup": {"resourceName": "customers/1234567890/adGroups/3", "id": "3", "name": "Brand"},
        "adGroupAd": {"resourceName": f"customers/1234567890/adGroupAds/3~{ad_id}", "ad": {"id": ad_id}},
        "metrics": m,
        "segments": {"date": day},
    }


def google_error(code: int, status: str, error_code: dict, message: str, *, retry_delay: str | None = None):
    err = {"errorCode": error_code, "message": message}
    if retry_delay:
        err["details"] = {"quotaErrorDetails": {"rateScope": "ACCOUNT", "retryDelay": retry_delay}}
    return {
        "error": {
            "code": code,
            "message": "Request contains an invalid argument." if code == 400 else status,
            "status": status,
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v18.errors.GoogleAdsFailure",
                    "errors": [err],
                    "requestId": "REQ-g-1",
                }
            ],
        }
    }


def gclient(script: Script, sleeps, **kw) -> GoogleAdsClient:
    kw.setdefault("retry", RetryPolicy(max_attempts=4))
    return GoogleAdsClient(
        ACCESS, DEV, "123-456-7890", login_customer_id="999-000-1111", transport=script.transport,
        tenant_id="bellavista", sleep=sleeps, **kw,
    )  # fmt: skip


def test_search_stream_request_and_batches(sleeps):
    batches = [
        {"results": [stat("11", "2026-01-30", "1234500"), stat("12", "2026-01-30", "0")], "fieldMask": "x", "requestId": "r1"},
        {"results": [stat("11", "2026-01-31", "9007199254740993")], "fieldMask": "x", "requestId": "r1"},
    ]  # fmt: skip
    script = Script(json_response(200, batches))
    with gclient(script, sleeps) as g:
        got = list(g.search_stream("SELECT campaign.id FROM campaign"))
        assert len(got) == 2
        frame = g.fetch_ad_stats(date(2026, 1, 30), date(2026, 1, 31))
    req = script.requests[-1]
    assert req.method == "POST"
    assert req.url.path == "/v18/customers/1234567890/googleAds:searchStream"
    assert req.headers["developer-token"] == DEV
    assert req.headers["login-customer-id"] == "9990001111"
    assert req.headers["authorization"] == f"Bearer {ACCESS}"
    assert json.loads(req.content)["query"] == AD_DAILY_STATS_GAQL.format(
        since="2026-01-30", until="2026-01-31"
    )
    assert frame.schema == pl.Schema(RAW_COLUMNS["google_ads_ad_stats"])
    assert frame["cost_micros"].to_list() == [1234500, 0, 9007199254740993]  # exact, beyond float precision
    row = frame.row(0, named=True)
    assert row == {
        "tenant_id": "bellavista", "customer_id": "1234567890", "date": date(2026, 1, 30), "campaign_id": "2",
        "campaign_name": "Search", "ad_group_id": "3", "ad_group_name": "Brand", "ad_id": "11",
        "currency_code": "EUR", "cost_micros": 1234500, "impressions": 900, "clicks": 10,
        "conversions": 1.5, "conversions_value": 80.0,
    }  # fmt: skip


def test_omitted_zero_metrics_become_zero():
    r = stat("1", "2026-01-01", None)
    del r["metrics"]["clicks"], r["metrics"]["conversions"]
    frame = parse_ad_stats([[{"results": [r]}]], "t", "1")
    assert frame.row(0, named=True)["cost_micros"] == 0
    assert frame.row(0, named=True)["clicks"] == 0
    assert frame.row(0, named=True)["conversions"] == 0.0


def test_resource_exhausted_honours_retry_delay(sleeps):
    body = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
        "Too many",
        retry_delay="12s",
    )
    script = Script(json_response(429, body), json_response(200, [{"results": []}]))
    with gclient(script, sleeps) as g:
        list(g.search_stream("SELECT campaign.id FROM campaign"))
    assert script.calls == 2
    assert sleeps == [12.0]


@pytest.mark.parametrize(
    ("http", "status", "code"),
    [(500, "INTERNAL", {"internalError": "INTERNAL_ERROR"}), (503, "UNAVAILABLE", {"internalError": "TRANSIENT_ERROR"}),
     (500, "INTERNAL", {"internalError": "TRANSIENT_ERROR"})],
)  # fmt: skip
def test_transient_errors_retried(http, status, code, sleeps):
    script = Script(
        json_response(http, google_error(http, status, code, "try again")),
        json_response(200, [{"results": []}]),
    )
    with gclient(script, sleeps) as g:
        list(g.search_stream("SELECT campaign.id FROM campaign"))
    assert script.calls == 2


def test_invalid_argument_not_retried_and_error_parsed(sleeps):
    body = google_error(
        400, "INVALID_ARGUMENT", {"queryError": "UNRECOGNIZED_FIELD"}, "Unrecognized field 'x'"
    )
    script = Script(json_response(400, body))
    with gclient(script, sleeps) as g, pytest.raises(PermanentError) as ei:
        list(g.search_stream("SELECT x FROM campaign"))
    assert script.calls == 1
    err = ei.value
    assert err.status == 400
    assert err.code == "INVALID_ARGUMENT/queryError.UNRECOGNIZED_FIELD"
    assert err.request_id == "REQ-g-1"
    assert "Unrecognized field 'x'" in str(err)
    for text in (str(err), repr(err), str(err.to_dict())):
        assert ACCESS not in text and DEV not in text


def test_auth_errors(sleeps):
    body = google_error(401, "UNAUTHENTICATED", {"authenticationError": "OAUTH_TOKEN_INVALID"}, "bad token")
    script = Script(json_response(401, body))
    with gclient(script, sleeps) as g, pytest.raises(AuthError):
        list(g.search_stream("SELECT campaign.id FROM campaign"))
    assert script.calls == 1


def test_stream_ending_with_error_element_is_retried(sleeps):
    broken = [
        {"results": [stat("1", "2026-01-01", "1")]},
        google_error(503, "UNAVAILABLE", {"internalError": "TRANSIENT_ERROR"}, "x"),
    ]
    script = Script(
        json_response(200, broken), json_response(200, [{"results": [stat("1", "2026-01-01", "1")]}])
    )
    with gclient(script, sleeps) as g:
        assert len(list(g.search_stream("SELECT campaign.id FROM campaign"))) == 1
    assert script.calls == 2


def test_parse_google_error_shapes():
    failure = parse_google_error(
        google_error(
            429, "RESOURCE_EXHAUSTED", {"quotaError": "RESOURCE_EXHAUSTED"}, "quota", retry_delay="1.5s"
        )
    )
    assert failure.status == "RESOURCE_EXHAUSTED"
    assert failure.error_codes == ("quotaError.RESOURCE_EXHAUSTED",)
    assert failure.retry_delay == 1.5
    assert failure.request_id == "REQ-g-1"
    assert parse_google_error([google_error(500, "INTERNAL", {}, "x")]).status == "INTERNAL"
    assert parse_google_error({"results": []}) is None


def test_entity_parsers():
    campaigns = parse_campaigns(
        [[{"results": [
            {"campaign": {"id": "2", "name": "Search", "status": "ENABLED", "campaignBudget": "customers/1/campaignBudgets/7",
                          "targetCpa": {"targetCpaMicros": "25000000"}},
             "campaignBudget": {"resourceName": "customers/1/campaignBudgets/7", "id": "7", "amountMicros": "50000000"}},
            {"campaign": {"id": "3", "name": "PMax", "status": "PAUSED", "campaignBudget": "customers/1/campaignBudgets/8",
                          "maximizeConversions": {"targetCpaMicros": "30000000"}}},
        ]}]],
        "t", "1",
    )  # fmt: skip
    assert campaigns.schema == pl.Schema(RAW_COLUMNS["google_ads_campaigns"])
    assert campaigns.rows() == [
        ("t", "1", "2", "Search", "ENABLED", "7", 50_000_000, 25_000_000),
        ("t", "1", "3", "PMax", "PAUSED", "8", None, 30_000_000),
    ]
    groups = parse_ad_groups(
        [
            [
                {
                    "results": [
                        {"campaign": {"id": "2"}, "adGroup": {"id": "3", "name": "G", "status": "ENABLED"}}
                    ]
                }
            ]
        ],
        "t",
        "1",
    )
    assert groups.rows() == [("t", "1", "2", "3", "G", "ENABLED")]
    ads = parse_ads(
        [[{"results": [{"campaign": {"id": "2"}, "adGroup": {"id": "3"}, "adGroupAd": {"ad": {"id": "11", "name": "A"}, "status": "PAUSED"}}]}]],
        "t", "1",
    )  # fmt: skip
    assert ads.schema == pl.Schema(RAW_COLUMNS["google_ads_ads"])
    assert ads.rows() == [("t", "1", "2", "3", "11", "A", "PAUSED")]


def _campaign(cid: str, budget: object = "50000000", target: object = "25000000", **campaign) -> dict:
    node = {
        "resourceName": f"customers/1/campaigns/{cid}",
        "id": cid,
        "name": f"C{cid}",
        "status": "ENABLED",
        "campaignBudget": f"customers/1/campaignBudgets/7{cid}",
        "targetCpa": {"targetCpaMicros": target},
    }
    node.update(campaign)
    row = {"campaign": {k: v for k, v in node.items() if v is not ...},
           "campaignBudget": {"resourceName": f"customers/1/campaignBudgets/7{cid}", "id": f"7{cid}",
                              "amountMicros": budget}}  # fmt: skip
    return row


def _drift(report: ParseReport) -> set[tuple[str, str]]:
    return {(e.kind, e.column) for e in report.drift}


def test_campaign_micros_sent_as_text_read_exactly_and_reported():
    """Micros are int64 decimal strings: "11,000,000" or "50.280.000,0" read to the exact micro."""
    report = ParseReport()
    frame = parse_campaigns(
        [[{"results": [_campaign("2", budget="11,000,000", target="50.280.000,0"),
                       _campaign("3", budget="123456789012", target="1,234,567")]},
          {"results": [_campaign("4")]}]],
        "t", "1", report=report,
    )  # fmt: skip
    assert frame.schema == pl.Schema(RAW_COLUMNS["google_ads_campaigns"])
    assert frame["budget_amount_micros"].to_list() == [11_000_000, 123_456_789_012, 50_000_000]
    assert frame["target_cpa_micros"].to_list() == [50_280_000, 1_234_567, 25_000_000]
    assert _drift(report) == {
        ("type_changed", "campaignBudget.amountMicros"),
        ("type_changed", "campaign.targetCpa.targetCpaMicros"),
    }


def test_campaigns_missing_field_new_field_and_unreadable_micros():
    report = ParseReport()
    frame = parse_campaigns(
        [[{"results": [_campaign("2", servingStatus="SERVING"), _campaign("3", status=...),
                       _campaign("4", budget="12.5")]}]],
        "t", "1", report=report,
    )  # fmt: skip
    marked = frame.filter(pl.col(QUARANTINE_REASON).is_not_null())
    assert marked["campaign_id"].to_list() == ["3", "4"]
    assert marked[QUARANTINE_FIELD].to_list() == ["campaign.status", "campaignBudget.amountMicros"]
    assert marked[QUARANTINE_REASON].to_list() == [
        "google_ads_campaigns: field campaign.status absent from the platform's answer (schema drift)",
        "google_ads_campaigns: campaignBudget.amountMicros '12.5' is not a whole number",
    ]
    assert frame.filter(pl.col(QUARANTINE_REASON).is_null())["budget_amount_micros"].to_list() == [50_000_000]
    assert _drift(report) == {("new_column", "campaign.servingStatus"), ("missing_column", "campaign.status")}


def test_ad_groups_and_ads_quarantine_rows_without_their_parent():
    report = ParseReport()
    groups = parse_ad_groups(
        [[{"results": [
            {"campaign": {"id": "2"}, "adGroup": {"id": "3", "name": "G", "status": "ENABLED", "type": "SEARCH"}},
            # no campaign.id, but the ad group names its campaign: read from the resource name
            {"adGroup": {"id": "4", "name": "H", "status": "PAUSED", "campaign": "customers/1/campaigns/2"}},
            {"adGroup": {"id": "5", "name": "I", "status": "PAUSED"}},  # no campaign at all
        ]}]],
        "t", "1", report=report,
    )  # fmt: skip
    assert groups.select("campaign_id", "ad_group_id", QUARANTINE_FIELD).rows() == [
        ("2", "3", None),
        ("2", "4", None),
        (None, "5", "campaign.id"),
    ]
    assert _drift(report) == {("new_column", "adGroup.type"), ("missing_column", "campaign.id")}
    assert report.drift[-1].detail == "google_ads_ad_groups: 1 row(s) without campaign.id"
    report = ParseReport()
    ads = parse_ads(
        [[{"results": [
            {"campaign": {"id": "2"}, "adGroup": {"id": "3"}, "adGroupAd": {"ad": {"id": "11"}, "status": "ENABLED"}},
            {"campaign": {"id": "2"}, "adGroupAd": {"ad": {"id": "12"}, "status": "ENABLED"}},
            {"campaign": {"id": "2"}, "adGroup": {"id": "3"}, "adGroupAd": {"ad": {"name": "no id"}, "status": "ENABLED"}},
        ]}]],
        "t", "1", report=report,
    )  # fmt: skip
    assert ads[QUARANTINE_FIELD].to_list() == [None, "adGroup.id", "adGroupAd.ad.id"]
    assert ads[QUARANTINE_REASON][2] == (
        "google_ads_ads: field adGroupAd.ad.id absent from the platform's answer (schema drift)"
    )
    assert _drift(report) == {("missing_column", "adGroup.id"), ("missing_column", "adGroupAd.ad.id")}


def test_mutate_budgets_body_and_partial_failure(sleeps):
    answer = {
        "results": [{"resourceName": "customers/1234567890/campaignBudgets/7"}, {}],
        "partialFailureError": {
            "code": 3,
            "message": "Budget amount is too low.",
            "details": [{
                "@type": "type.googleapis.com/google.ads.googleads.v18.errors.GoogleAdsFailure",
                "errors": [{
                    "errorCode": {"campaignBudgetError": "MONEY_AMOUNT_TOO_SMALL"},
                    "message": "Budget amount is too low.",
                    "location": {"fieldPathElements": [{"fieldName": "operations", "index": 1}, {"fieldName": "update"}, {"fieldName": "amount_micros"}]},
                }],
                "requestId": "REQ-m",
            }],
        },
    }  # fmt: skip
    script = Script(json_response(200, answer))
    with gclient(script, sleeps) as g:
        result = g.mutate_campaign_budgets(
            [("7", 25_000_000), ("customers/1234567890/campaignBudgets/8", 1)], idempotency_key="d-1"
        )
    body = json.loads(script.requests[0].content)
    assert script.requests[0].url.path == "/v18/customers/1234567890/campaignBudgets:mutate"
    assert script.requests[0].headers["x-idempotency-key"] == "d-1"
    assert body == {
        "operations": [
            {"update": {"resourceName": "customers/1234567890/campaignBudgets/7", "amountMicros": "25000000"}, "updateMask": "amount_micros"},
            {"update": {"resourceName": "customers/1234567890/campaignBudgets/8", "amountMicros": "1"}, "updateMask": "amount_micros"},
        ],
        "partialFailure": True,
        "validateOnly": False,
    }  # fmt: skip
    assert result.results == ["customers/1234567890/campaignBudgets/7", None]
    assert not result.ok
    assert result.failed_indexes() == {1}
    failure = result.partial_failures[0]
    assert failure.error_code == "campaignBudgetError.MONEY_AMOUNT_TOO_SMALL"
    assert failure.field_path == "operations[1].update.amount_micros"
    assert result.request_id == "REQ-m"


def test_mutate_without_key_not_retried_on_5xx(sleeps):
    script = Script(
        json_response(500, google_error(500, "INTERNAL", {"internalError": "INTERNAL_ERROR"}, "x")),
        json_response(200, {"results": [{}]}),
    )
    with gclient(script, sleeps) as g, pytest.raises(WriteNotRetriedError):
        g.mutate_campaigns([("2", "PAUSED")])
    assert script.calls == 1


def test_mutate_without_key_retried_on_resource_exhausted(sleeps):
    body = google_error(
        429, "RESOURCE_EXHAUSTED", {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "slow down"
    )
    script = Script(
        json_response(429, body),
        json_response(200, {"results": [{"resourceName": "customers/1234567890/campaigns/2"}]}),
    )
    with gclient(script, sleeps) as g:
        result = g.mutate_campaigns([("2", "PAUSED")])
    assert result.ok and result.results == ["customers/1234567890/campaigns/2"]
    assert script.calls == 2


def test_validate_only_is_safe_to_retry(sleeps):
    script = Script(json_response(503, {}), json_response(200, {"results": [{}]}))
    with gclient(script, sleeps) as g:
        result = g.mutate_ad_group_ads([(g.ad_group_ad_resource("3", "11"), "PAUSED")], validate_only=True)
    assert result.validate_only
    assert script.calls == 2
    body = json.loads(script.requests[0].content)
    assert body["validateOnly"] is True
    assert body["operations"][0] == {
        "update": {"resourceName": "customers/1234567890/adGroupAds/3~11", "status": "PAUSED"},
        "updateMask": "status",
    }


def test_mutate_input_validation(sleeps):
    with gclient(Script(json_response(200, {})), sleeps) as g:
        with pytest.raises(ValueError):
            g.mutate_campaigns([("2", "DELETED")])
        with pytest.raises(ValueError):
            g.mutate_campaigns([("customers/555/campaigns/2", "PAUSED")])  # another customer's resource
        with pytest.raises(ValueError):
            g.mutate_campaign_budgets([("7", 0)])


def test_gives_up_rate_limited(sleeps):
    body = google_error(429, "RESOURCE_EXHAUSTED", {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "x")
    script = Script(json_response(429, body))
    with gclient(script, sleeps, retry=RetryPolicy(max_attempts=2)) as g, pytest.raises(RateLimitedError):
        list(g.search_stream("SELECT campaign.id FROM campaign"))
    assert script.calls == 2


def test_timeouts_on_reads_retried(sleeps):
    script = Script(httpx.ReadTimeout("slow"), json_response(200, [{"results": []}]))
    with gclient(script, sleeps) as g:
        list(g.search_stream("SELECT campaign.id FROM campaign"))
    assert script.calls == 2


def test_search_paging_and_landing(tmp_path, sleeps):
    script = Script(
        json_response(200, {"results": [stat("1", "2026-01-01", "5")], "nextPageToken": "p2"}),
        json_response(200, {"results": [stat("2", "2026-01-01", "6")]}),
    )
    with gclient(script, sleeps, landing=LandingZone(tmp_path)) as g:
        pages = list(g.iter_search_pages("SELECT ...", partition="2026-01-01"))
    assert len(pages) == 2
    assert json.loads(script.requests[1].content) == {"query": "SELECT ...", "pageToken": "p2"}
    assert parse_ad_stats(pages, "t", "1")["cost_micros"].to_list() == [5, 6]
    sidecar = read_meta(pages[0].landing_path)
    assert sidecar["method"] == "POST"
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert ACCESS.encode() not in data and DEV.encode() not in data
