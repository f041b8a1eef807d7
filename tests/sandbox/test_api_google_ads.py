"""Fake Google Ads REST API: GAQL searchStream/search, units and nesting, mutates, errors."""

from __future__ import annotations

import polars as pl
import pytest

from connectors.sandbox.api import BASE_URLS, SandboxLimits, gaql, sandbox_token
from tests.sandbox.api_fixtures import (
    DAYS,
    GOOGLE_BV,
    GOOGLE_HEADERS,
    GOOGLE_NW,
    FixtureState,
    make_api,
    make_client,
)

BASE = BASE_URLS["google_ads"]
STATS = (
    "SELECT campaign.id, campaign.name, ad_group.id, ad_group.name, ad_group_ad.ad.id, customer.currency_code, "
    "metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, metrics.conversions_value, "
    "segments.date FROM ad_group_ad WHERE segments.date BETWEEN '{a}' AND '{b}'"
)


def _stream(client, query, cid=GOOGLE_NW, headers=GOOGLE_HEADERS):
    return client.post(
        f"{BASE}/customers/{cid}/googleAds:searchStream", json={"query": query}, headers=headers
    )


def _mutate(client, service, body, cid=GOOGLE_NW, headers=GOOGLE_HEADERS):
    return client.post(f"{BASE}/customers/{cid}/{service}:mutate", json=body, headers=headers)


def _budget_op(budget_id, micros, cid=GOOGLE_NW):
    return {
        "update": {
            "resourceName": f"customers/{cid}/campaignBudgets/{budget_id}",
            "amountMicros": str(micros),
        },
        "updateMask": "amount_micros",
    }


def test_ad_stats_stream_in_batches_with_exact_micros():
    state = FixtureState()
    limits = SandboxLimits(google_batch_size=25, google_restatement_days=0)
    client = make_client(make_api(state, limits=limits))
    a, b = DAYS[2], DAYS[11]
    response = _stream(client, STATS.format(a=a, b=b))
    assert response.status_code == 200
    batches = response.json()
    results = [r for batch in batches for r in batch["results"]]
    world = state.world.delivery.filter(
        (pl.col("platform") == "google_ads")
        & (pl.col("account_id") == GOOGLE_NW)
        & pl.col("date").is_between(a, b)
    )
    assert [len(batch["results"]) for batch in batches[:-1]] == [25] * (len(batches) - 1)
    assert len(results) == world.height
    assert batches[0]["fieldMask"].startswith(
        "campaign.id,campaign.name,adGroup.id,adGroup.name,adGroupAd.ad.id,"
    )
    assert "segments.date" in batches[0]["fieldMask"] and batches[0]["requestId"]
    by_key = {(r["ad_id"], r["date"].isoformat()): r for r in world.to_dicts()}
    seen = set()
    for result in results:
        key = (result["adGroupAd"]["ad"]["id"], result["segments"]["date"])
        seen.add(key)
        truth = by_key[key]
        metrics = result["metrics"]
        assert metrics["costMicros"] == str(truth["spend_micros"])
        assert metrics["impressions"] == str(truth["impressions"]) and metrics["clicks"] == str(
            truth["clicks"]
        )
        assert (
            isinstance(metrics["conversions"], float)
            and metrics["conversions"] == truth["platform_conversions"]
        )
        assert metrics["conversionsValue"] == pytest.approx(truth["platform_conversion_value"])
        assert result["campaign"]["id"] == truth["campaign_id"] and isinstance(result["campaign"]["id"], str)
        assert result["campaign"]["resourceName"] == f"customers/{GOOGLE_NW}/campaigns/{truth['campaign_id']}"
        assert result["adGroupAd"]["resourceName"].endswith(
            f"/adGroupAds/{truth['ad_group_id']}~{truth['ad_id']}"
        )
        assert result["customer"]["currencyCode"] == "USD"
    assert seen == set(by_key)


def test_entity_queries_nest_by_resource_and_map_status():
    client = make_client(make_api())
    q = (
        "SELECT campaign.id, campaign.name, campaign.status, campaign.campaign_budget, "
        "campaign.maximize_conversions.target_cpa_micros, campaign_budget.amount_micros FROM campaign"
    )
    results = _stream(client, q).json()[0]["results"]
    by_id = {r["campaign"]["id"]: r for r in results}
    assert set(by_id) == {"310001", "310002", "310003"}
    brand = by_id["310001"]
    assert brand["campaign"]["status"] == "ENABLED" and by_id["310003"]["campaign"]["status"] == "PAUSED"
    assert brand["campaign"]["campaignBudget"] == f"customers/{GOOGLE_NW}/campaignBudgets/91001"
    assert brand["campaign"]["maximizeConversions"] == {"targetCpaMicros": "12500000"}
    assert "maximizeConversions" not in by_id["310002"]["campaign"]  # unset fields are left out
    assert brand["campaignBudget"]["amountMicros"] == "50000000"

    budgets = _stream(
        client,
        "SELECT campaign_budget.id, campaign_budget.amount_micros, campaign_budget.explicitly_shared, "
        "campaign_budget.reference_count FROM campaign_budget",
    ).json()[0]["results"]
    assert [b["campaignBudget"] for b in budgets] == [
        {
            "resourceName": f"customers/{GOOGLE_NW}/campaignBudgets/91001",
            "id": "91001",
            "amountMicros": "50000000",
            "explicitlyShared": True,
            "referenceCount": "2",
        },
        {
            "resourceName": f"customers/{GOOGLE_NW}/campaignBudgets/91002",
            "id": "91002",
            "amountMicros": "20000000",
            "explicitlyShared": False,
            "referenceCount": "1",
        },
    ]
    groups = _stream(client, "SELECT ad_group.id, ad_group.status, campaign.id FROM ad_group").json()[0][
        "results"
    ]
    assert len(groups) == 3 and groups[0]["adGroup"]["resourceName"].startswith(
        f"customers/{GOOGLE_NW}/adGroups/"
    )
    ads = _stream(
        client,
        "SELECT ad_group_ad.ad.id, ad_group_ad.status FROM ad_group_ad WHERE ad_group_ad.status = 'ENABLED'",
    ).json()[0]["results"]
    assert len(ads) == 6 and all(r["adGroupAd"]["status"] == "ENABLED" for r in ads)


def test_campaign_metrics_filters_order_and_limit():
    state = FixtureState()
    client = make_client(make_api(state))
    q = (
        f"SELECT campaign.id, metrics.cost_micros FROM campaign WHERE segments.date >= '{DAYS[0]}' AND segments.date <= '{DAYS[-1]}' "
        "AND campaign.status IN ('ENABLED', 'PAUSED') ORDER BY metrics.cost_micros DESC LIMIT 2"
    )
    results = _stream(client, q).json()[0]["results"]
    costs = [int(r["metrics"]["costMicros"]) for r in results]
    assert len(costs) == 2 and costs == sorted(costs, reverse=True)
    world = (
        state.world.delivery.filter(pl.col("account_id") == GOOGLE_NW)
        .group_by("campaign_id")
        .agg(pl.col("spend_micros").sum())
        .sort("spend_micros", descending=True)
    )
    assert costs == world["spend_micros"].head(2).to_list()


def test_empty_result_is_one_batch_without_results():
    client = make_client(make_api())
    body = _stream(client, STATS.format(a="2030-01-01", b="2030-01-31")).json()
    assert len(body) == 1 and "results" not in body[0] and body[0]["fieldMask"]


def test_search_pages_with_next_page_token():
    state = FixtureState()
    client = make_client(make_api(state, limits=SandboxLimits(google_page_size=10)))
    url = f"{BASE}/customers/{GOOGLE_NW}/googleAds:search"
    query = STATS.format(a=DAYS[0], b=DAYS[-1])
    body = client.post(
        url, json={"query": query, "returnTotalResultsCount": True}, headers=GOOGLE_HEADERS
    ).json()
    results = list(body["results"])
    total = int(body["totalResultsCount"])
    while "nextPageToken" in body:
        body = client.post(
            url, json={"query": query, "pageToken": body["nextPageToken"]}, headers=GOOGLE_HEADERS
        ).json()
        results += body["results"]
    keys = {(r["adGroupAd"]["ad"]["id"], r["segments"]["date"]) for r in results}
    assert (
        len(results)
        == len(keys)
        == total
        == state.world.delivery.filter(pl.col("account_id") == GOOGLE_NW).height
    )
    bad = client.post(url, json={"query": query, "pageToken": "garbage"}, headers=GOOGLE_HEADERS)
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT campaign.id FROM keyword_view", "INVALID_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        ("SELECT campaign.id, campaign.foo FROM campaign", "UNRECOGNIZED_FIELD"),
        ("SELECT metrics.cost_micros, segments.date FROM campaign", "EXPECTED_FILTERS_ON_DATE_RANGE"),
        ("SELECT campaign.id FROM campaign WHERE campaign.status LIKE 'x'", "BAD_VALUE_IN_WHERE_CLAUSE"),
        ("SELECT campaign.id FROM campaign WHERE segments.date = 'yesterday'", "BAD_VALUE_IN_WHERE_CLAUSE"),
        ("SELECT campaign.id FROM campaign ORDER BY campaign.name", "ORDER_BY_FIELD_NOT_SELECTED"),
        (
            "SELECT campaign_budget.id FROM campaign_budget WHERE segments.date = '2026-01-01'",
            "UNRECOGNIZED_FIELD",
        ),
        ("DELETE FROM campaign", "EXPECTED_SELECT"),
        ("", "EXPECTED_SELECT"),
    ],
)
def test_unsupported_gaql_is_invalid_argument(query, code):
    response = _stream(make_client(make_api()), query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert error["details"][0]["errors"][0]["errorCode"] == {"queryError": code}
    with pytest.raises(gaql.GaqlError):
        gaql.parse(query)


def test_gaql_parser_reads_the_supported_grammar():
    query = gaql.parse(
        "select campaign.id, metrics.clicks from campaign where segments.date during LAST_7_DAYS "
        "and campaign.status != 'REMOVED' and campaign.id in (1, 2) order by metrics.clicks desc limit 5"
    )
    assert query.resource == "campaign" and query.fields == ("campaign.id", "metrics.clicks")
    assert [(c.field, c.op) for c in query.conditions] == [
        ("segments.date", "DURING"),
        ("campaign.status", "!="),
        ("campaign.id", "IN"),
    ]
    assert query.order_by == (("metrics.clicks", True),) and query.limit == 5
    assert query.date_range(DAYS[-1]) == (DAYS[-8], DAYS[-2])


def test_budget_validate_only_changes_nothing():
    state = FixtureState()
    api = make_api(state)
    before = state.world.campaigns
    body = {"operations": [_budget_op("91001", 80_000_000)], "validateOnly": True}
    response = _mutate(make_client(api), "campaignBudgets", body)
    assert response.status_code == 200 and response.json() == {}
    assert state.world.campaigns is before and api.applied_writes == [] and state.mutations == []


def test_budget_update_moves_every_campaign_sharing_it():
    state = FixtureState()
    api = make_api(state)
    response = _mutate(make_client(api), "campaignBudgets", {"operations": [_budget_op("91001", 80_000_000)]})
    assert response.json() == {"results": [{"resourceName": f"customers/{GOOGLE_NW}/campaignBudgets/91001"}]}
    budgets = dict(state.world.campaigns.select("campaign_id", "daily_budget").iter_rows())
    assert budgets["310001"] == budgets["310002"] == 80.0 and budgets["310003"] == 20.0
    assert [(w.entity_type, w.entity_id, w.value) for w in api.applied_writes] == [
        ("campaign_budget", "91001", 80_000_000)
    ]


def test_partial_failure_reports_per_operation_errors():
    state = FixtureState()
    api = make_api(state)
    operations = [
        _budget_op("91002", 30_000_000),
        _budget_op("99999", 30_000_000),  # unknown budget
        _budget_op("91001", 12_345),  # not whole cents
        {"update": {"resourceName": "customers/1/campaignBudgets/91001"}, "updateMask": "amount_micros"},
    ]
    body = _mutate(
        make_client(api), "campaignBudgets", {"operations": operations, "partialFailure": True}
    ).json()
    assert body["results"] == [{"resourceName": f"customers/{GOOGLE_NW}/campaignBudgets/91002"}, {}, {}, {}]
    failure = body["partialFailureError"]
    assert failure["code"] == 3
    errors = failure["details"][0]["errors"]
    assert [e["location"]["fieldPathElements"][0] for e in errors] == [
        {"fieldName": "operations", "index": i} for i in (1, 2, 3)
    ]
    assert errors[0]["errorCode"] == {"mutateError": "RESOURCE_NOT_FOUND"}
    assert errors[1]["errorCode"] == {"campaignBudgetError": "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"}
    assert [(w.entity_id, w.value) for w in api.applied_writes] == [("91002", 30_000_000)]


def test_without_partial_failure_one_bad_operation_rejects_all():
    state = FixtureState()
    api = make_api(state)
    operations = [_budget_op("91002", 30_000_000), _budget_op("99999", 30_000_000)]
    response = _mutate(make_client(api), "campaignBudgets", {"operations": operations})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["errors"][0]["location"]["fieldPathElements"][0]["index"] == 1
    assert api.applied_writes == [] and state.mutations == []


def test_status_mutates_pause_campaigns_ad_groups_and_ads():
    state = FixtureState()
    api = make_api(state)
    client = make_client(api)
    campaign = {
        "update": {"resourceName": f"customers/{GOOGLE_NW}/campaigns/310001", "status": "PAUSED"},
        "updateMask": "status",
    }
    assert _mutate(client, "campaigns", {"operations": [campaign]}).status_code == 200
    group = {
        "update": {"resourceName": f"customers/{GOOGLE_NW}/adGroups/320003", "status": "ENABLED"},
        "updateMask": "status",
    }
    assert _mutate(client, "adGroups", {"operations": [group]}).status_code == 200
    ad = {
        "update": {"resourceName": f"customers/{GOOGLE_NW}/adGroupAds/320002~330102", "status": "PAUSED"},
        "updateMask": "status",
    }
    assert _mutate(client, "adGroupAds", {"operations": [ad]}).json() == {
        "results": [{"resourceName": f"customers/{GOOGLE_NW}/adGroupAds/320002~330102"}]
    }
    assert dict(state.world.campaigns.select("campaign_id", "status").iter_rows())["310001"] == "PAUSED"
    assert dict(state.world.ad_groups.select("ad_group_id", "status").iter_rows())["320003"] == "ACTIVE"
    assert dict(state.world.ads.select("ad_id", "status").iter_rows())["330102"] == "PAUSED"
    read = _stream(
        client, "SELECT campaign.id, campaign.status FROM campaign WHERE campaign.id = 310001"
    ).json()
    assert read[0]["results"][0]["campaign"]["status"] == "PAUSED"
    wrong_group = {
        "update": {"resourceName": f"customers/{GOOGLE_NW}/adGroupAds/320001~330102", "status": "PAUSED"},
        "updateMask": "status",
    }
    assert _mutate(client, "adGroupAds", {"operations": [wrong_group]}).status_code == 400
    removed = {**campaign, "update": {**campaign["update"], "status": "REMOVED"}}
    assert _mutate(client, "campaigns", {"operations": [removed]}).status_code == 400
    create = {"create": {"name": "x"}}
    assert _mutate(client, "campaigns", {"operations": [create]}).status_code == 400
    assert len(api.applied_writes) == 3


def test_auth_and_tenancy_errors():
    client = make_client(make_api())
    no_token = _stream(client, "SELECT campaign.id FROM campaign", headers={"developer-token": "d"})
    assert no_token.status_code == 401 and no_token.json()["error"]["status"] == "UNAUTHENTICATED"
    no_dev = _stream(client, "SELECT campaign.id FROM campaign", headers={"Authorization": "Bearer t"})
    assert no_dev.status_code == 400
    assert no_dev.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"
    }
    scoped = {"Authorization": f"Bearer {sandbox_token('bellavista')}", "developer-token": "d"}
    assert (
        _stream(client, "SELECT campaign.id FROM campaign", cid=GOOGLE_BV, headers=scoped).status_code == 200
    )
    denied = _stream(client, "SELECT campaign.id FROM campaign", cid=GOOGLE_NW, headers=scoped)
    assert denied.status_code == 403 and denied.json()["error"]["status"] == "PERMISSION_DENIED"
    assert _stream(client, "SELECT campaign.id FROM campaign", cid="123-456-7890").status_code == 400
    listed = client.get(f"{BASE}/customers:listAccessibleCustomers", headers=scoped).json()
    assert listed == {"resourceNames": [f"customers/{GOOGLE_BV}"]}
