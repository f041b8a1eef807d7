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
    decimal_column,
    empty_frame,
    frame_from_columns,
    frame_from_rows,
    int_column,
    parse_timestamp_columns,
    parse_timestamps,
    to_dates,
    to_decimal,
    to_int,
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


# ---- the vectorised builders give exactly what the one-value converters give ------------------------

MONEY_INPUTS = [
    "53.39", "5.5", "53", "-0.5", "0.01", "-0.00", "0.10", "9999999999999999.99", "007.1", None, "",
    "1e3", " 12.3 ", "abc", "NaN", "Infinity", "1.555", "1.545", "1_000", "+5", ".5", "5.", "٣",
    "99999999999999999.99", 12.5, 7, True, Decimal("1.005"),
]  # fmt: skip
INT_INPUTS = [
    "1000", "007", "-5", "123456789012345678", None, "", "12.0", "12.5", "1e3", " 4 ", "abc", "٣",
    "99999999999999999999", 1000, 3.0, 2.5, True, False,
]  # fmt: skip


def _same(series: pl.Series, expected: list, dtype: pl.DataType) -> None:
    reference = pl.Series(series.name, expected, dtype=dtype, strict=False)
    assert series.dtype == dtype
    assert series.to_list() == reference.to_list()
    assert [str(v) for v in series.to_list()] == [str(v) for v in reference.to_list()]  # scale too


@pytest.mark.parametrize("values", [MONEY_INPUTS, [v for v in MONEY_INPUTS if isinstance(v, str)][:8]])
def test_decimal_column_is_to_decimal_per_value(values):
    _same(decimal_column("m", values), [to_decimal(v) for v in values], pl.Decimal(18, 2))


def test_decimal_column_plain_strings_take_the_vectorised_cast():
    values = ["53.39", "5.5", "53", "-0.5", None, "0.10"]
    column = decimal_column("m", values)
    assert column.to_list() == [Decimal("53.39"), Decimal("5.50"), Decimal("53.00"), Decimal("-0.50"), None,
                                Decimal("0.10")]  # fmt: skip
    _same(column, [to_decimal(v) for v in values], pl.Decimal(18, 2))


@pytest.mark.parametrize("values", [INT_INPUTS, ["1", "22", None, "-3"], [1, 2, None]])
def test_int_column_is_to_int_per_value(values):
    _same(int_column("n", values), [to_int(v) for v in values], pl.Int64())


def test_to_dates_is_to_date_per_value():
    from connectors.contracts import to_date

    values = ["2026-01-31", "2026-01-31", "2026-01-31T10:00", "20260131", "bad", None, "", 5, date(2026, 2, 1),
              datetime(2026, 2, 2, 3), "2026-W05-1"]  # fmt: skip
    assert to_dates(values) == [to_date(v) for v in values]


TS_INPUTS = [
    "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123Z", "2026-01-20T12:00:00.000+02:00", "1767225600000",
    "2026-01-01", "2026-01-01 10:00:00", "2026-01-01 10:00:00+0100", "2026-01-01T10:00:00", "bad", None,
    "", " 2026-01-01T00:00:00Z ", "2026-01-01T00:00:00+0000",
]  # fmt: skip


@pytest.mark.parametrize(
    "values",
    [TS_INPUTS, ["2026-01-01T00:00:00Z", None, "2026-03-01T01:02:03.456789+00:00"], [None, None], []],
    ids=["mixed", "iso-only", "all-null", "empty"],
)
def test_parse_timestamp_columns_is_parse_timestamps(values):
    frame = pl.DataFrame({"a": values, "b": list(reversed(values))}, schema={"a": pl.String, "b": pl.String})
    expected = frame.with_columns(parse_timestamps("a").alias("a"), parse_timestamps("b").alias("b"))
    assert parse_timestamp_columns(frame, ["a", "b"]).equals(expected)


def test_frame_from_columns_is_frame_from_rows():
    rows = [
        {"tenant_id": "t", "id": 5, "amount": Decimal("1.5"), "createdate": "2026-01-01T00:00:00Z", "archived": 1},
        {"tenant_id": "t", "id": "6", "amount": "x", "createdate": 17, "archived": None, "closedate": "bad"},
        {"tenant_id": None, "id": None, "amount": None, "createdate": None},
    ]  # fmt: skip
    ts = ("createdate", "closedate", "lastmodifieddate")
    columns = {c: [r.get(c) for r in rows] for c in RAW_COLUMNS["hubspot_deals"]}
    columns["amount"] = decimal_column("amount", columns["amount"])
    expected = frame_from_rows("hubspot_deals", rows, timestamp_strings=ts)
    assert frame_from_columns("hubspot_deals", columns, timestamp_strings=ts).equals(expected)
    assert frame_from_columns("hubspot_deals", {}).schema == expected.schema
