"""Data contracts: bad rows quarantined with field and reason, good rows kept."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest

from connectors.contracts import (
    RAW_COLUMNS,
    UNIQUE_KEYS,
    ContractError,
    empty_frame,
    frame_from_rows,
    validate,
)


def insight(ad_id: str, spend: str = "10.00", **over):
    row = {
        "tenant_id": "northwind", "account_id": "111", "date_start": date(2026, 1, 1), "campaign_id": "2",
        "campaign_name": "C", "adset_id": "3", "adset_name": "S", "ad_id": ad_id, "ad_name": "A",
        "account_currency": "USD", "spend": Decimal(spend), "impressions": 100, "clicks": 5,
        "conversions": 1.0, "conversion_value": Decimal("20.00"), "actions": "[]",
    }  # fmt: skip
    row.update(over)
    return row


def test_negative_spend_and_duplicates_quarantined_good_rows_kept():
    frame = frame_from_rows(
        "meta_ads_insights",
        [insight("1"), insight("2", "-3.50"), insight("1", "99.00"), insight("4"), insight("1", "7.00")],
    )
    result = validate(frame, "raw.meta_ads_insights")
    assert result.good["ad_id"].to_list() == ["1", "4"]
    assert result.good["spend"].to_list() == [Decimal("10.00"), Decimal("10.00")]  # the first "1" is kept
    q = result.quarantine
    assert q.columns == ["record", "field", "reason"]
    assert q.height == 3
    neg = q.filter(pl.col("field") == "spend").row(0, named=True)
    assert "must be >= 0" in neg["reason"]
    assert json.loads(neg["record"])["ad_id"] == "2"
    dups = q.filter(pl.col("reason").str.contains("duplicate key"))
    assert dups.height == 2
    assert sorted(json.loads(r)["spend"] for r in dups["record"]) == ["7.00", "99.00"]
    assert result.n_good + result.n_quarantined == frame.height
    assert result.reasons()["spend: must be >= 0"] == 1


def test_clicks_above_impressions_is_a_warning_only():
    frame = frame_from_rows("meta_ads_insights", [insight("1", clicks=500, impressions=100)])
    result = validate(frame, "meta_ads_insights")
    assert result.good.height == 1
    assert result.quarantine.height == 0
    assert any("clicks > impressions" in w for w in result.warnings)


def test_ids_must_be_digits_and_present():
    frame = frame_from_rows("meta_ads_insights", [insight("abc"), insight(None), insight("5")])
    result = validate(frame, "meta_ads_insights")
    assert result.good["ad_id"].to_list() == ["5"]
    reasons = result.quarantine["reason"].to_list()
    assert any("ad_id: must be a string of digits" in r for r in reasons)
    assert any("ad_id: must not be null" in r for r in reasons)


def test_future_dates_relative_to_as_of():
    frame = frame_from_rows("meta_ads_insights", [insight("1"), insight("2", date_start=date(2026, 3, 1))])
    assert validate(frame, "meta_ads_insights").good.height == 2  # no as_of: no future check
    result = validate(frame, "meta_ads_insights", as_of=date(2026, 2, 1))
    assert result.good["ad_id"].to_list() == ["1"]
    assert result.quarantine.row(0, named=True)["field"] == "date_start"


def test_touchpoints_event_type_and_timestamps():
    rows = [
        {"tenant_id": "t", "event_id": "e1", "anonymous_id": "a", "event_ts": datetime(2026, 1, 1, 23, 59), "event_type": "session"},
        {"tenant_id": "t", "event_id": "e2", "anonymous_id": "a", "event_ts": datetime(2026, 1, 1), "event_type": "purchase"},
        {"tenant_id": "t", "event_id": "e3", "anonymous_id": "a", "event_ts": datetime(2026, 1, 2, 0, 1), "event_type": "lead"},
        {"tenant_id": "t", "event_id": "e4", "anonymous_id": None, "event_ts": datetime(2026, 1, 1), "event_type": "lead"},
    ]  # fmt: skip
    result = validate(frame_from_rows("touchpoints", rows), "touchpoints", as_of=date(2026, 1, 1))
    assert result.good["event_id"].to_list() == ["e1"]
    by_field = dict(zip(result.quarantine["field"], result.quarantine["reason"], strict=True))
    assert set(by_field) == {"event_type", "event_ts", "anonymous_id"}


def test_google_stats_negative_cost_and_currency():
    base = {
        "tenant_id": "t", "customer_id": "1", "date": date(2026, 1, 1), "campaign_id": "2", "ad_group_id": "3",
        "ad_id": "4", "currency_code": "EUR", "cost_micros": 10, "impressions": 1, "clicks": 0,
        "conversions": 0.0, "conversions_value": 0.0,
    }  # fmt: skip
    rows = [base, {**base, "ad_id": "5", "cost_micros": -1}, {**base, "ad_id": "6", "currency_code": "euro"}]
    result = validate(frame_from_rows("google_ads_ad_stats", rows), "google_ads_ad_stats")
    assert result.good["ad_id"].to_list() == ["4"]
    assert sorted(result.quarantine["field"].to_list()) == ["cost_micros", "currency_code"]


def test_hubspot_deal_close_date_may_be_in_the_future():
    row = {
        "tenant_id": "t", "id": "1", "amount": Decimal("5.00"), "createdate": datetime(2026, 1, 1),
        "closedate": datetime(2026, 12, 31), "lastmodifieddate": datetime(2026, 1, 2), "archived": False,
    }  # fmt: skip
    result = validate(frame_from_rows("hubspot_deals", [row]), "hubspot_deals", as_of=date(2026, 1, 5))
    assert result.good.height == 1


def test_shape_errors_raise():
    frame = frame_from_rows("meta_ads_insights", [insight("1")])
    with pytest.raises(ContractError, match="missing columns"):
        validate(frame.drop("spend"), "meta_ads_insights")
    with pytest.raises(ContractError, match="wrong dtypes"):
        validate(frame.with_columns(pl.col("spend").cast(pl.Float64)), "meta_ads_insights")
    with pytest.raises(KeyError):
        validate(frame, "raw.nope")


@pytest.mark.parametrize("table", sorted(RAW_COLUMNS))
def test_every_table_has_a_contract_and_accepts_empty(table):
    result = validate(empty_frame(table), table)
    assert result.good.height == 0 and result.quarantine.height == 0
    assert set(UNIQUE_KEYS[table]) <= set(RAW_COLUMNS[table])


def test_extra_columns_are_kept():
    frame = frame_from_rows("meta_ads_insights", [insight("1")]).with_columns(pl.lit("x").alias("_source"))
    assert validate(frame, "meta_ads_insights").good.columns[-1] == "_source"
