"""A small GAQL parser for the fixed set of resources and fields the sandbox serves.

Grammar (keywords case-insensitive):
    SELECT f1, f2, ... FROM resource
      [WHERE cond AND cond ...]  cond: field BETWEEN 'a' AND 'b' | field op value | field [NOT] IN (v, ...)
                                       | field DURING LAST_30_DAYS   (op: = != > >= < <=)
      [ORDER BY field [ASC|DESC], ...] [LIMIT n]
Anything else is rejected with a `GaqlError` naming the Google Ads `queryError` code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

_CUSTOMER = (
    "customer.resource_name",
    "customer.id",
    "customer.descriptive_name",
    "customer.currency_code",
    "customer.time_zone",
)
_CAMPAIGN = (
    "campaign.resource_name",
    "campaign.id",
    "campaign.name",
    "campaign.status",
    "campaign.campaign_budget",
    "campaign.advertising_channel_type",
    "campaign.bidding_strategy_type",
    "campaign.target_cpa.target_cpa_micros",
    "campaign.maximize_conversions.target_cpa_micros",
    "campaign.start_date",
    "campaign.end_date",
)
_BUDGET = (
    "campaign_budget.resource_name",
    "campaign_budget.id",
    "campaign_budget.name",
    "campaign_budget.amount_micros",
    "campaign_budget.status",
    "campaign_budget.delivery_method",
    "campaign_budget.explicitly_shared",
    "campaign_budget.reference_count",
)
_AD_GROUP = (
    "ad_group.resource_name",
    "ad_group.id",
    "ad_group.name",
    "ad_group.status",
    "ad_group.campaign",
    "ad_group.type",
)
_AD_GROUP_AD = (
    "ad_group_ad.resource_name",
    "ad_group_ad.ad.resource_name",
    "ad_group_ad.ad.id",
    "ad_group_ad.ad.name",
    "ad_group_ad.status",
    "ad_group_ad.ad_group",
)
_CHANGE_EVENT = (
    "change_event.resource_name",
    "change_event.change_date_time",
    "change_event.change_resource_type",
    "change_event.change_resource_name",
    "change_event.resource_change_operation",
    "change_event.client_type",
    "change_event.user_email",
    "change_event.campaign",
    "change_event.old_resource.campaign_budget.amount_micros",
    "change_event.new_resource.campaign_budget.amount_micros",
)
METRICS = (
    "metrics.cost_micros",
    "metrics.impressions",
    "metrics.clicks",
    "metrics.conversions",
    "metrics.conversions_value",
)
SEGMENTS = ("segments.date",)

# Fields selectable FROM each resource (its own, attributed resources', metrics and segments).
RESOURCES: dict[str, tuple[str, ...]] = {
    "customer": _CUSTOMER + METRICS + SEGMENTS,
    "campaign": _CAMPAIGN + _BUDGET + _CUSTOMER + METRICS + SEGMENTS,
    "campaign_budget": _BUDGET + _CUSTOMER,
    "change_event": _CHANGE_EVENT + _CUSTOMER,
    "ad_group": _AD_GROUP + _CAMPAIGN + _CUSTOMER + METRICS + SEGMENTS,
    "ad_group_ad": _AD_GROUP_AD + _AD_GROUP + _CAMPAIGN + _CUSTOMER + METRICS + SEGMENTS,
}
_DURING = ("TODAY", "YESTERDAY", "LAST_7_DAYS", "LAST_14_DAYS", "LAST_30_DAYS", "THIS_MONTH", "LAST_MONTH")

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\S+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_FIELD = re.compile(r"^[a-z_]+(?:\.[a-z_]+)+$")
_VALUE = r"'[^']*'|\"[^\"]*\"|[\w.\-]+"
_COND = re.compile(
    rf"\s*(?P<field>[a-z_.]+)\s+(?:"
    rf"(?P<between>BETWEEN)\s+(?P<lo>{_VALUE})\s+AND\s+(?P<hi>{_VALUE})"
    rf"|(?P<inop>NOT\s+IN|IN)\s*\((?P<list>[^)]*)\)"
    rf"|(?P<during>DURING)\s+(?P<range>\w+)"
    rf"|(?P<op>!=|>=|<=|=|>|<)\s*(?P<value>{_VALUE})"
    rf")\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"AND\s+", re.IGNORECASE)


class GaqlError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # "=", "!=", ">", ">=", "<", "<=", "IN", "NOT IN", "DURING"
    value: Any  # a scalar, or a tuple for IN / NOT IN


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...]
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None

    @property
    def has_metrics(self) -> bool:
        """True when rows come from delivery (metrics or segments selected or filtered)."""
        names = [*self.fields, *(c.field for c in self.conditions)]
        return any(f.startswith(("metrics.", "segments.")) for f in names)

    def date_range(self, today: date) -> tuple[date | None, date | None]:
        """The segments.date window the conditions bound (None where open); rows are still filtered
        by every condition, this only bounds the scan."""
        low: date | None = None
        high: date | None = None
        for cond in self.conditions:
            if cond.field != "segments.date":
                continue
            lo: date | None = None
            hi: date | None = None
            if cond.op == "DURING":
                lo, hi = during_range(cond.value, today)
            elif cond.op == "IN":
                days = [_as_date(v) for v in cond.value]
                lo, hi = (min(days), max(days)) if days else (date.max, date.min)
            elif cond.op == "=":
                lo = hi = _as_date(cond.value)
            elif cond.op in (">=", ">"):
                lo = _as_date(cond.value) + timedelta(days=1 if cond.op == ">" else 0)
            elif cond.op in ("<=", "<"):
                hi = _as_date(cond.value) - timedelta(days=1 if cond.op == "<" else 0)
            if lo is not None:
                low = lo if low is None else max(low, lo)
            if hi is not None:
                high = hi if high is None else min(high, hi)
        return low, high


def parse(text: str) -> Query:
    if not isinstance(text, str) or not text.strip():
        raise GaqlError("EXPECTED_SELECT", "The query is empty.")
    match = _QUERY.match(text)
    if match is None:
        word = "EXPECTED_SELECT" if not re.match(r"\s*SELECT\b", text, re.I) else "EXPECTED_FROM"
        raise GaqlError(
            word, f"Error in query: unexpected input. The sandbox serves SELECT ... FROM ... : {text!r}"
        )
    resource = match.group("resource").lower()
    if resource not in RESOURCES:
        raise GaqlError(
            "INVALID_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"Error in query: the sandbox does not serve resource '{resource}' "
            f"(supported: {', '.join(sorted(RESOURCES))}).",
        )
    allowed = RESOURCES[resource]
    fields = tuple(f.strip() for f in match.group("fields").split(","))
    for name in fields:
        _check_field(name, allowed, resource)
    if len(set(fields)) != len(fields):
        raise GaqlError(
            "DUPLICATE_FIELDS_IN_SELECT_CLAUSE", "Error in SELECT clause: a field is selected twice."
        )
    conditions = _parse_where(match.group("where") or "", allowed, resource)
    order_by = _parse_order(match.group("order") or "", fields)
    limit = None
    if match.group("limit") is not None:
        if not match.group("limit").isdigit() or int(match.group("limit")) < 1:
            raise GaqlError("BAD_LIMIT_VALUE", f"Error in LIMIT clause: {match.group('limit')!r}.")
        limit = int(match.group("limit"))
    query = Query(fields, resource, conditions, order_by, limit)
    if "segments.date" in fields:
        low, high = query.date_range(date(2000, 1, 1))  # only finiteness matters here, not the day
        if low is None or high is None:
            raise GaqlError(
                "EXPECTED_FILTERS_ON_DATE_RANGE",
                "Error in query: segments.date is selected, so the WHERE clause must filter it to a finite "
                "date range (e.g. segments.date BETWEEN '2026-01-01' AND '2026-01-31').",
            )
    return query


def _check_field(name: str, allowed: tuple[str, ...], resource: str) -> None:
    if not _FIELD.match(name):
        raise GaqlError("BAD_FIELD_NAME", f"Error in query: bad field name {name!r}.")
    if name not in allowed:
        raise GaqlError(
            "UNRECOGNIZED_FIELD",
            f"Unrecognized field in the query: '{name}' (not served FROM {resource} by the sandbox).",
        )


def _parse_where(text: str, allowed: tuple[str, ...], resource: str) -> tuple[Condition, ...]:
    conditions: list[Condition] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        if conditions:
            joiner = _AND.match(text, pos)
            if joiner is None:
                raise GaqlError(
                    "UNEXPECTED_INPUT", f"Error in WHERE clause near {text[pos:]!r} (only AND is supported)."
                )
            pos = joiner.end()
        match = _COND.match(text, pos)
        if match is None:
            raise GaqlError("BAD_VALUE_IN_WHERE_CLAUSE", f"Error in WHERE clause near {text[pos:]!r}.")
        field = match.group("field")
        _check_field(field, allowed, resource)
        if match.group("between"):
            conditions.append(Condition(field, ">=", _literal(match.group("lo"))))
            conditions.append(Condition(field, "<=", _literal(match.group("hi"))))
        elif match.group("inop"):
            op = "NOT IN" if match.group("inop").upper().startswith("NOT") else "IN"
            items = tuple(_literal(v.strip()) for v in match.group("list").split(",") if v.strip())
            conditions.append(Condition(field, op, items))
        elif match.group("during"):
            if match.group("range").upper() not in _DURING:
                raise GaqlError(
                    "BAD_DATE_RANGE", f"DURING {match.group('range')} is not supported by the sandbox."
                )
            conditions.append(Condition(field, "DURING", match.group("range").upper()))
        else:
            conditions.append(Condition(field, match.group("op"), _literal(match.group("value"))))
        pos = match.end()
    for cond in conditions:
        if cond.field == "segments.date" and cond.op != "DURING":
            for value in cond.value if isinstance(cond.value, tuple) else (cond.value,):
                _as_date(value)
    return tuple(conditions)


def _parse_order(text: str, fields: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    order: list[tuple[str, bool]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        bits = part.split()
        if len(bits) > 2 or (len(bits) == 2 and bits[1].upper() not in ("ASC", "DESC")):
            raise GaqlError("BAD_ORDER_BY", f"Error in ORDER BY clause near {part!r}.")
        if bits[0] not in fields:
            raise GaqlError("ORDER_BY_FIELD_NOT_SELECTED", f"ORDER BY field {bits[0]!r} must be in SELECT.")
        order.append((bits[0], len(bits) == 2 and bits[1].upper() == "DESC"))
    return tuple(order)


def _literal(raw: str) -> Any:
    if raw[:1] in ("'", '"'):
        return raw[1:-1]
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"-?\d+\.\d+", raw):
        return float(raw)
    return raw  # an enum constant such as ENABLED


def _as_date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise GaqlError("BAD_VALUE_IN_WHERE_CLAUSE", f"Error in WHERE clause: bad date {value!r}.") from exc


def during_range(name: str, today: date) -> tuple[date, date]:
    yesterday = today - timedelta(days=1)
    if name == "TODAY":
        return today, today
    if name == "YESTERDAY":
        return yesterday, yesterday
    if name == "THIS_MONTH":
        return today.replace(day=1), today
    if name == "LAST_MONTH":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    days = int(name.split("_")[1])
    return today - timedelta(days=days), yesterday
