"""The fake APIs' wire format stays exactly `json.dumps(..., separators=(",", ":"), ensure_ascii=False)`
however the body is produced (orjson fast path, pre-rendered Google rows, integer money formatting)."""

from __future__ import annotations

import json
import math
import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest

from connectors.sandbox.api import BASE_URLS, common, gaql
from connectors.sandbox.api.common import dumps_json, json_float, micros_to_str
from connectors.sandbox.api.google_ads import _render
from tests.sandbox.api_fixtures import (
    DAYS,
    GOOGLE_HEADERS,
    GOOGLE_NW,
    HUBSPOT_NW,
    META_NW,
    META_TOKEN,
    make_api,
    make_client,
)


def reference(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Text(str):
    pass


PAYLOADS = [
    {"a": "plain", "b": 1, "c": None, "d": True, "e": False, "f": [], "g": {}},
    {
        "unicode": "é ü 東京 \U0001f600 \u2028 \u2029 \x7f \ufeff",
        "ctl": "\x00\x01\x1f\n\r\t\b\f",
        "q": '"\\/',
    },
    {"nested": [{"x": [1, [2, [3, {"y": "z"}]]]}], "neg": -(2**63), "big": 2**63 - 1},
    {"bigger": 2**64, "huge": -(2**70)},  # beyond orjson: json decides
    {1: "int key", "k": "v"},  # non-str key: json's conversion
    {"sub": Text("a str subclass")},
    [1, "two", None, {"three": 3}],
    "just a string",
    12345,
]


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_dumps_json_is_json_dumps(payload, fast):
    assert dumps_json(payload, fast=fast) == reference(payload)


@pytest.mark.parametrize("fast", [False, True])
def test_dumps_json_refuses_what_json_refuses(fast):
    with pytest.raises(TypeError):
        dumps_json({"d": date(2026, 1, 1)}, fast=fast)


FLOATS = [0.0, -0.0, 1.0, 3.0, 1.5, 0.1, 1e-4, 1e-5, 1.23e-5, 2.5e-7, 1e15, 1e16, 1.2345678e16, 1e22, 12.34]
FLOATS += [5e-324, 1.7976931348623157e308, math.nan, math.inf, -math.inf, 123456789.123456789]


def test_json_float_prints_floats_as_json_does():
    rng = random.Random(7)
    values = FLOATS + [rng.uniform(-1, 1) * 10 ** rng.randint(-12, 20) for _ in range(2000)]
    payload = {"values": values}
    wrapped = {"values": [json_float(v) for v in values]}
    assert dumps_json(wrapped, fast=True) == reference(payload)


def test_without_orjson_everything_goes_through_json(monkeypatch):
    monkeypatch.setattr(common, "_orjson", None)
    values = [1.5, 1e-5, math.nan]
    assert json_float(1e-5) == 1e-5
    assert dumps_json({"v": [json_float(v) for v in values]}, fast=True) == reference({"v": values})


@pytest.mark.parametrize(
    "micros", [0, 1, 4_999, 5_000, 9_999, 10_000, 14_999, 15_000, 53_390_000, 10**18 - 1]
)
def test_micros_to_str_integer_path_matches_decimal(micros):
    expected = str((Decimal(micros) / Decimal(1_000_000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    assert micros_to_str(micros) == expected


def test_micros_to_str_random_and_negative():
    rng = random.Random(3)
    for micros in [rng.randrange(0, 10 ** rng.randint(1, 17)) for _ in range(5000)] + [-1, -5_000, -15_000]:
        expected = (Decimal(micros) / Decimal(1_000_000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert micros_to_str(micros) == str(expected)


def _roundtrip(response) -> None:
    """The body is what json.dumps writes for the body's own content (key order, escapes, floats)."""
    assert response.content == reference(json.loads(response.content)), response.request.url


def test_every_platform_answers_in_the_json_dumps_format():
    api = make_api()
    client = make_client(api)
    meta = BASE_URLS["meta"]
    from connectors.sandbox.api.meta import INSIGHTS_FIELDS

    insights_fields = ",".join(INSIGHTS_FIELDS)
    time_range = json.dumps({"since": DAYS[0].isoformat(), "until": DAYS[-1].isoformat()})
    for level in ("ad", "adset", "campaign", "account"):
        params = {"level": level, "time_increment": 1, "time_range": time_range, "fields": insights_fields}
        params["access_token"] = META_TOKEN
        response = client.get(f"{meta}/act_{META_NW}/insights", params={**params, "limit": 7})
        _roundtrip(response)
        assert response.json()["data"]
    for edge in ("campaigns", "adsets", "ads"):
        params = {"fields": "id,name,status,daily_budget", "access_token": META_TOKEN}
        _roundtrip(client.get(f"{meta}/act_{META_NW}/{edge}", params=params))
    _roundtrip(client.get(f"{meta}/act_{META_NW}", params={"access_token": META_TOKEN}))

    google = f"{BASE_URLS['google_ads']}/customers/{GOOGLE_NW}/googleAds:searchStream"
    for query in (
        "SELECT campaign.id, campaign.name, ad_group.id, ad_group_ad.ad.id, metrics.cost_micros, "
        "metrics.conversions, metrics.conversions_value, segments.date FROM ad_group_ad "
        f"WHERE segments.date BETWEEN '{DAYS[0]}' AND '{DAYS[-1]}'",
        "SELECT campaign.id, campaign.target_cpa.target_cpa_micros, campaign_budget.amount_micros FROM campaign",
        "SELECT campaign_budget.id, campaign_budget.explicitly_shared FROM campaign_budget",
        "SELECT customer.id, metrics.conversions FROM customer",
    ):
        response = client.post(google, json={"query": query}, headers=GOOGLE_HEADERS)
        assert response.status_code == 200, response.text
        _roundtrip(response)

    hubspot = BASE_URLS["hubspot"]
    for kind, assoc in (("contacts", "deals"), ("deals", "contacts")):
        response = client.get(
            f"{hubspot}/crm/v3/objects/{kind}",
            params={"limit": 100, "associations": assoc},
            headers=HUBSPOT_NW,
        )
        _roundtrip(response)
    body = {"filterGroups": [], "sorts": ["lastmodifieddate"], "properties": ["email"], "limit": 50}
    _roundtrip(client.post(f"{hubspot}/crm/v3/objects/contacts/search", json=body, headers=HUBSPOT_NW))


def _render_reference(frame: pl.DataFrame, query: gaql.Query) -> list[dict]:
    """The general row-by-row nesting (what `_render` does for a row with nulls)."""
    from connectors.sandbox.api.google_ads import _is_int64, _order_keys, _path

    fields = list(query.fields)
    objects = {query.resource}
    for name in query.fields:
        parts = name.split(".")
        objects.update(".".join(parts[:i]) for i in range(1, len(parts)))
    for obj in sorted(objects):
        rn = f"{obj}.resource_name"
        if rn in frame.columns and rn not in fields:
            fields.append(rn)
    selected = frame.select(
        [pl.col(f).cast(pl.String) if _is_int64(f) or f == "segments.date" else pl.col(f) for f in fields]
    )
    paths = [_path(f) for f in fields]
    out = []
    for row in selected.iter_rows():
        result: dict = {}
        for path, value in zip(paths, row, strict=True):
            if value is None:
                continue
            node = result
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        out.append(_order_keys(result))
    return out


def test_google_render_matches_the_general_nesting_with_and_without_nulls():
    query = gaql.parse(
        "SELECT metrics.clicks, campaign.name, ad_group.id, campaign.id, metrics.conversions, segments.date "
        "FROM ad_group WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-31'"
    )
    frame = pl.DataFrame(
        {
            "metrics.clicks": [1, None, 3, 4],
            "campaign.name": ["a", "b", None, "d"],
            "ad_group.id": [10, 11, 12, None],
            "campaign.id": [7, 7, None, 8],
            "metrics.conversions": [1.5, None, 1e-5, 2.0],
            "segments.date": [date(2026, 1, 1)] * 4,
            "ad_group.resource_name": ["customers/1/adGroups/10", None, "x", "y"],
            "campaign.resource_name": ["customers/1/campaigns/7", "c", None, "z"],
        }
    )
    expected = _render_reference(frame, query)
    assert _render(frame, query) == expected
    body = dumps_json(_render(frame, query, json_float), fast=True)
    assert body == reference(expected)
