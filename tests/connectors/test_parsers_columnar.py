"""The parsers build their frames column by column; here each is checked against the row-by-row parse
it replaced (kept below as the reference), on rows with every odd value the platforms could send.

Numbers go through `connectors.drift.read_number` (text read exactly or the row marked for quarantine
with its reason) and rows without a required field are marked: the references do the same, row by row.
"""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import cycle, islice

import polars as pl
import pytest

from connectors.contracts import frame_from_rows, to_date, to_decimal
from connectors.drift import QUARANTINE_FIELD, QUARANTINE_REASON, read_number
from connectors.google_ads import parse_ad_stats
from connectors.hubspot import _LIFECYCLE_DATES, _latest_per_id, associated_ids, parse_contacts, parse_deals
from connectors.meta_ads import INSIGHTS_REQUIRED, MetaSettings, parse_insights, sum_actions


# ---- references: the row-by-row parsers ------------------------------------------------------------
class _Marks:
    """The first problem of each row (field, reason), as the parsers record it."""

    def __init__(self, n):
        self.n, self.first = n, {}

    def add(self, i, field, reason):
        self.first.setdefault(i, (field, reason))

    def missing(self, rows, paths, source):
        for path in paths:
            name = ".".join(path)
            for i, row in enumerate(rows):
                if not _has(row, path):
                    self.add(
                        i, name, f"{source}: field {name} absent from the platform's answer (schema drift)"
                    )

    def number(self, i, value, kind, label, source):
        if value is None or value == "":
            return None
        number, reason = read_number(value, kind)
        if reason is not None:
            self.add(i, label, f"{source}: {label} {reason}")
            return None
        return {"int": int, "money": lambda d: to_decimal(str(d)), "float": float}[kind](number)

    def apply(self, frame):
        if not self.first:
            return frame
        fields = [self.first.get(i, (None, None))[0] for i in range(self.n)]
        reasons = [self.first.get(i, (None, None))[1] for i in range(self.n)]
        return frame.with_columns(
            pl.Series(QUARANTINE_FIELD, fields, dtype=pl.String),
            pl.Series(QUARANTINE_REASON, reasons, dtype=pl.String),
        )


def _has(row, path):
    for key in path:
        if not isinstance(row, dict) or key not in row:
            return False
        row = row[key]
    return True


def _s(value):
    return None if value is None else str(value)


def _digits(value):
    if value is None:
        return None
    text = str(value)
    return text[4:] if text.startswith("act_") else text


def reference_insights(rows, tenant_id, account_id=None, settings=None):
    settings = settings or MetaSettings()
    types, agg = settings.conversion_action_types, settings.conversion_aggregation
    marks, source = _Marks(len(rows)), "meta_ads_insights"
    marks.missing(rows, [(f,) for f in INSIGHTS_REQUIRED], source)
    out = []
    for i, row in enumerate(rows):
        actions = row.get("actions")
        conv = sum_actions(actions, types, agg)
        conv_value = sum_actions(row.get("action_values"), types, agg)
        out.append(
            {
                "tenant_id": tenant_id,
                "account_id": _digits(row.get("account_id")) or _digits(account_id),
                "date_start": to_date(row.get("date_start")),
                **{k: _s(row.get(k)) for k in ("campaign_id", "campaign_name", "adset_id", "adset_name")},
                **{k: _s(row.get(k)) for k in ("ad_id", "ad_name", "account_currency")},
                "spend": marks.number(i, row.get("spend"), "money", "spend", source),
                "impressions": marks.number(i, row.get("impressions"), "int", "impressions", source),
                "clicks": marks.number(i, row.get("clicks"), "int", "clicks", source),
                "conversions": float(conv) if conv is not None else 0.0,
                "conversion_value": to_decimal(conv_value) if conv_value is not None else Decimal("0.00"),
                "actions": json.dumps(actions, separators=(",", ":")) if actions is not None else None,
            }
        )
    return marks.apply(frame_from_rows("meta_ads_insights", out))


def _get(row, *path):
    cur = row
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def reference_ad_stats(results, tenant_id, customer_id):
    marks, source = _Marks(len(results)), "google_ads_ad_stats"
    marks.missing(
        results,
        [("segments", "date"), ("campaign", "id"), ("campaign", "name"), ("adGroup", "id"),
         ("adGroupAd", "ad", "id"), ("customer", "currencyCode")],
        source,
    )  # fmt: skip
    index = {id(r): i for i, r in enumerate(results)}

    def metric(r, name, kind):
        metrics = r.get("metrics") or {}
        if name not in metrics:
            return 0 if kind == "int" else 0.0
        return marks.number(index[id(r)], metrics[name], kind, f"metrics.{name}", source)

    rows = [
        {
            "tenant_id": tenant_id,
            "customer_id": _s(_get(r, "customer", "id")) or customer_id,
            "date": to_date(_get(r, "segments", "date")),
            "campaign_id": _s(_get(r, "campaign", "id")),
            "campaign_name": _get(r, "campaign", "name"),
            "ad_group_id": _s(_get(r, "adGroup", "id")),
            "ad_group_name": _get(r, "adGroup", "name"),
            "ad_id": _s(_get(r, "adGroupAd", "ad", "id")),
            "currency_code": _get(r, "customer", "currencyCode"),
            "cost_micros": metric(r, "costMicros", "int"),
            "impressions": metric(r, "impressions", "int"),
            "clicks": metric(r, "clicks", "int"),
            "conversions": metric(r, "conversions", "float"),
            "conversions_value": metric(r, "conversionsValue", "float"),
        }
        for r in results
    ]
    return marks.apply(frame_from_rows("google_ads_ad_stats", rows))


def reference_contacts(records, tenant_id):
    rows = []
    for r in records:
        p = r.get("properties") or {}
        row = {
            "tenant_id": tenant_id,
            "id": _s(r.get("id")),
            **{k: p.get(k) for k in ("email", "firstname", "lastname", "lifecyclestage", "anonymous_id")},
            "createdate": p.get("createdate") or r.get("createdAt"),
            "lastmodifieddate": p.get("lastmodifieddate") or r.get("updatedAt"),
            "archived": bool(r.get("archived", False)),
            "marketing_opt_in": None,  # neither consent property sent
            "archived_at": r.get("archivedAt"),
        }
        row.update({col: p.get(prop) for col, prop in _LIFECYCLE_DATES.items()})
        rows.append(row)
    ts = ("createdate", "lastmodifieddate", *_LIFECYCLE_DATES, "archived_at")
    return _latest_per_id(frame_from_rows("hubspot_contacts", rows, timestamp_strings=ts))


def reference_deals(records, tenant_id):
    marks = _Marks(len(records))
    rows = []
    for i, r in enumerate(records):
        p = r.get("properties") or {}
        contacts = associated_ids(r, "contacts")
        rows.append(
            {
                "tenant_id": tenant_id,
                "id": _s(r.get("id")),
                "contact_id": contacts[0] if contacts else None,
                "dealname": p.get("dealname"),
                "amount": marks.number(i, p.get("amount"), "money", "amount", "hubspot_deals"),
                "dealstage": p.get("dealstage"),
                "pipeline": p.get("pipeline"),
                "createdate": p.get("createdate") or r.get("createdAt"),
                "closedate": p.get("closedate"),
                "lastmodifieddate": p.get("hs_lastmodifieddate") or r.get("updatedAt"),
                "archived": bool(r.get("archived", False)),
            }
        )
    ts = ("createdate", "closedate", "lastmodifieddate")
    return _latest_per_id(marks.apply(frame_from_rows("hubspot_deals", rows, timestamp_strings=ts)))


# ---- odd values ----------------------------------------------------------------------------------------
MONEY = ["53.39", "5.5", "1e3", " 12.3 ", "abc", None, "", "NaN", "1.555", "1.545", 12.5, 7, "-0.5",
         "99999999999999999.99", "1_000", "0.10", "-0.00", True, "٣", "12.0"]  # fmt: skip
COUNTS = [
    "1000",
    "12.0",
    "12.5",
    1000,
    None,
    "",
    True,
    "abc",
    "007",
    "99999999999999999999",
    "-5",
    3.0,
    " 4 ",
]
DATES = ["2026-01-31", "2026-01-31T00:00", "20260131", None, "", "bad", 5, "2026-W05-1"]
TIMES = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123Z", "2026-01-20T12:00:00.000+02:00", "1767225600000",
         "2026-01-01", "2026-01-01 10:00:00", "bad", None, "", " 2026-01-01T00:00:00Z "]  # fmt: skip
PURCHASE, OTHER = "offsite_conversion.fb_pixel_purchase", "purchase"
ACTIONS = [
    None, [], "x", [1, "a"],
    [{"action_type": OTHER, "value": "2"}, {"action_type": PURCHASE, "value": "3"}],
    [{"action_type": OTHER, "value": "2"}, {"action_type": OTHER, "value": "2.5"}],
    [{"action_type": PURCHASE, "value": 2}], [{"action_type": OTHER, "value": None}],
    [{"action_type": OTHER, "value": "abc"}, {"action_type": PURCHASE, "value": "1.0000005"}],
    [{"action_type": ["x"], "value": "1"}, {"action_type": "lead", "value": "7"}], [{"value": "1"}],
    [{"action_type": OTHER, "value": "99.999"}], [{"action_type": PURCHASE, "value": "é"}],
]  # fmt: skip


def insight_rows(n=150):
    rows = []
    accounts = list(islice(cycle(["act_123", 123, None, "", "456"]), n))
    for i in range(n):
        rows.append(
            {
                "account_id": accounts[i],
                "date_start": DATES[i % len(DATES)],
                "campaign_id": [None, "1", 2, 3.5][i % 4],
                "campaign_name": ["n", None, 5][i % 3],
                "adset_id": "9", "ad_id": str(i), "ad_name": "ü", "account_currency": "EUR",
                "spend": MONEY[i % len(MONEY)],
                "impressions": COUNTS[i % len(COUNTS)],
                "clicks": COUNTS[(i * 7) % len(COUNTS)],
                "actions": ACTIONS[i % len(ACTIONS)],
                "action_values": ACTIONS[(i * 5) % len(ACTIONS)],
            }
        )  # fmt: skip
    return rows


@pytest.mark.parametrize(
    "settings",
    [None, MetaSettings(conversion_action_types=(OTHER, "lead"), conversion_aggregation="sum")],
    ids=["first", "sum"],
)
def test_parse_insights_matches_row_by_row(settings):
    rows = insight_rows()
    got = parse_insights(
        [{"data": rows[:70]}, {"data": rows[70:]}], "t", account_id="act_77", settings=settings
    )
    assert got.equals(reference_insights(rows, "t", "act_77", settings))
    assert got.rows() == reference_insights(rows, "t", "act_77", settings).rows()  # Decimal scale too
    for row in rows:  # and one row at a time (each column alone takes the fast or the general path)
        assert parse_insights([{"data": [row]}], "t").equals(reference_insights([row], "t"))


def test_parse_insights_plain_strings_exact():
    rows = [dict(insight_rows(1)[0], spend=v, impressions="10", clicks="2") for v in ["0.10"] * 10 + ["5.5"]]
    frame = parse_insights([{"data": rows}], "t")
    assert frame["spend"].sum() == Decimal("6.50")
    assert frame.equals(reference_insights(rows, "t"))


def stat_rows(n=120):
    rows = []
    for i in range(n):
        metrics = {"costMicros": COUNTS[i % len(COUNTS)], "impressions": "5", "clicks": COUNTS[(i * 3) % 13],
                   "conversions": [1.5, 2, None, "3.5", "x", True][i % 6], "conversionsValue": 80.0}  # fmt: skip
        if i % 5 == 0:
            del metrics["clicks"]
        if i % 7 == 0:
            del metrics["conversions"]
        row = {
            "customer": [{"id": "1", "currencyCode": "EUR"}, None, {"currencyCode": "USD"}, "x"][i % 4],
            "campaign": {"id": i, "name": "c"},
            "adGroup": [{"id": "3", "name": "g"}, {}][i % 2],
            "adGroupAd": {"ad": {"id": str(i)}},
            "metrics": None if i % 11 == 0 else metrics,
            "segments": {"date": DATES[i % len(DATES)]},
        }
        rows.append(row)
    return rows


def test_parse_ad_stats_matches_row_by_row():
    rows = stat_rows()
    assert parse_ad_stats([[{"results": rows}]], "t", "999").equals(reference_ad_stats(rows, "t", "999"))
    for row in rows:
        assert parse_ad_stats([[{"results": [row]}]], "t", "9").equals(reference_ad_stats([row], "t", "9"))
    clean = [
        {**r, "metrics": {"costMicros": "9007199254740993", "impressions": "1", "clicks": "0"}} for r in rows
    ]
    frame = parse_ad_stats([[{"results": clean}]], "t", "999")
    assert frame["cost_micros"].unique().to_list() == [9007199254740993]
    assert frame.equals(reference_ad_stats(clean, "t", "999"))


def crm_records(n=120):
    records = []
    for i in range(n):
        props = {
            "email": ["a@b", None, 5][i % 3], "createdate": TIMES[i % len(TIMES)],
            "lastmodifieddate": TIMES[(i * 3) % len(TIMES)], "hs_lifecyclestage_lead_date": TIMES[(i * 5) % 10],
            "amount": MONEY[i % len(MONEY)], "closedate": TIMES[(i * 2) % len(TIMES)],
            "hs_lastmodifieddate": TIMES[(i * 7) % len(TIMES)], "dealname": "d",
        }  # fmt: skip
        if i % 4 == 0:
            del props["createdate"]
        record = {
            "id": [str(i % 50), i % 50][i % 2],
            "properties": props if i % 9 else None,
            "createdAt": TIMES[(i + 1) % len(TIMES)],
            "updatedAt": TIMES[(i + 2) % len(TIMES)],
        }
        if i % 3 == 0:
            record["archived"] = [True, False, "x", None][i % 4]
        if i % 2:
            record["associations"] = {"contacts": {"results": [{"id": "7"}, {"toObjectId": 8}, {"id": "7"}]}}
        records.append(record)
    return records


def test_parse_contacts_and_deals_match_row_by_row():
    records = crm_records()
    pages = [{"results": records[:60]}, {"results": records[60:]}]
    assert parse_contacts(pages, "t").equals(reference_contacts(records, "t"))
    assert parse_deals(pages, "t").equals(reference_deals(records, "t"))
    assert parse_deals(pages, "t").rows() == reference_deals(records, "t").rows()
    for record in records:
        assert parse_contacts([{"results": [record]}], "t").equals(reference_contacts([record], "t"))
        assert parse_deals([{"results": [record]}], "t").equals(reference_deals([record], "t"))
