"""Google Ads API (REST) connector: GAQL reads through searchStream, mutates for budgets and statuses.

Wire format (../shared/PLATFORMS.md): results are nested by resource in camelCase, 64-bit integers are
strings (`"costMicros": "1234500"`), money in micros, zero-valued fields may be omitted. Errors are
`{"error": {"code", "status", "details": [{"errors": [{"errorCode": {...}, "message"}], "requestId"}]}}`;
RESOURCE_EXHAUSTED is retried honouring its retryDelay, UNAVAILABLE/INTERNAL/TRANSIENT_ERROR are retried,
INVALID_ARGUMENT never.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import polars as pl

from connectors.contracts import (
    frame_from_columns,
    frame_from_rows,
    int_column,
    to_dates,
    to_float,
    to_int,
)
from connectors.drift import (
    ParseReport,
    RowIssues,
    absent_rows,
    check_rows,
    mark_absent,
    missing_fields,
    new_fields,
    number_column,
    row_keys,
)
from connectors.errors import AuthError, PermanentError, RateLimitedError, TransientError
from connectors.http import (
    DEFAULT_TIMEOUT,
    HttpClient,
    Page,
    RetryDecision,
    RetryPolicy,
    iter_pages,
    page_body,
    parse_retry_after,
    request_id_from,
)
from connectors.landing import LandingZone

PLATFORM = "google_ads"

AD_DAILY_STATS_GAQL = (
    "SELECT campaign.id, campaign.name, ad_group.id, ad_group.name, ad_group_ad.ad.id, "
    "customer.currency_code, metrics.cost_micros, metrics.impressions, metrics.clicks, "
    "metrics.conversions, metrics.conversions_value, segments.date "
    "FROM ad_group_ad WHERE segments.date BETWEEN '{since}' AND '{until}'"
)
CAMPAIGNS_GAQL = (
    "SELECT campaign.id, campaign.name, campaign.status, campaign.campaign_budget, "
    "campaign.bidding_strategy_type, campaign.target_cpa.target_cpa_micros, "
    "campaign.maximize_conversions.target_cpa_micros, campaign_budget.id, campaign_budget.amount_micros "
    "FROM campaign"
)
AD_GROUPS_GAQL = "SELECT campaign.id, ad_group.id, ad_group.name, ad_group.status FROM ad_group"
ADS_GAQL = (
    "SELECT campaign.id, ad_group.id, ad_group_ad.ad.id, ad_group_ad.ad.name, ad_group_ad.status "
    "FROM ad_group_ad"
)


@dataclass(frozen=True)
class GoogleAdsSettings:
    api_version: str = "v18"
    rate_limit_statuses: frozenset[str] = frozenset({"RESOURCE_EXHAUSTED"})
    transient_statuses: frozenset[str] = frozenset(
        {"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED"}
    )
    transient_error_codes: frozenset[str] = frozenset(
        {"TRANSIENT_ERROR", "RESOURCE_TEMPORARILY_EXHAUSTED", "CONCURRENT_MODIFICATION"}
    )
    auth_statuses: frozenset[str] = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
    valid_statuses: frozenset[str] = frozenset({"ENABLED", "PAUSED", "REMOVED"})


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoogleAdsErrorDetail:
    """One entry of a GoogleAdsFailure: `error_code` is "<family>.<CODE>", e.g. "quotaError.RESOURCE_EXHAUSTED"."""

    error_code: str | None
    message: str | None
    operation_index: int | None = None
    trigger: str | None = None
    field_path: str | None = None


@dataclass(frozen=True)
class GoogleAdsFailure:
    http_code: int | None
    status: str | None
    message: str | None
    request_id: str | None
    errors: tuple[GoogleAdsErrorDetail, ...] = ()
    retry_delay: float | None = None

    @property
    def error_codes(self) -> tuple[str, ...]:
        return tuple(e.error_code for e in self.errors if e.error_code)


def _duration(value: Any) -> float | None:
    """Protobuf Duration as JSON ("30s", "1.5s") or {"seconds": .., "nanos": ..} -> seconds."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", value)
        return float(m.group(1)) if m else None
    if isinstance(value, Mapping):
        secs = to_float(value.get("seconds")) or 0.0
        nanos = to_float(value.get("nanos")) or 0.0
        return secs + nanos / 1e9
    return None


def _find_key(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        if key in obj:
            return obj[key]
        for v in obj.values():
            found = _find_key(v, key)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = _find_key(v, key)
            if found is not None:
                return found
    return None


def _error_detail(err: Mapping[str, Any]) -> GoogleAdsErrorDetail:
    code = err.get("errorCode")
    code_text = None
    if isinstance(code, Mapping) and code:
        family, value = next(iter(code.items()))
        code_text = f"{family}.{value}"
    index = None
    path = []
    location = err.get("location") or {}
    for elem in location.get("fieldPathElements", []) if isinstance(location, Mapping) else []:
        name = elem.get("fieldName")
        idx = elem.get("index")
        path.append(f"{name}[{idx}]" if idx is not None else str(name))
        if name == "operations" and idx is not None and index is None:
            index = to_int(idx)
    trigger = err.get("trigger")
    if isinstance(trigger, Mapping):
        trigger = next((str(v) for v in trigger.values()), None)
    return GoogleAdsErrorDetail(
        code_text, err.get("message"), index, trigger, ".".join(path) if path else None
    )


def parse_google_error(body: Any) -> GoogleAdsFailure | None:
    """Google's error envelope (also inside a searchStream array) -> GoogleAdsFailure."""
    if isinstance(body, list):
        body = next((b for b in body if isinstance(b, Mapping) and "error" in b), None)
    if not isinstance(body, Mapping):
        return None
    err = body.get("error", body if "details" in body else None)
    if not isinstance(err, Mapping):
        return None
    errors: list[GoogleAdsErrorDetail] = []
    request_id = None
    for detail in err.get("details", []) or []:
        if not isinstance(detail, Mapping):
            continue
        request_id = request_id or detail.get("requestId")
        for e in detail.get("errors", []) or []:
            if isinstance(e, Mapping):
                errors.append(_error_detail(e))
    return GoogleAdsFailure(
        http_code=to_int(err.get("code")),
        status=err.get("status"),
        message=err.get("message"),
        request_id=request_id,
        errors=tuple(errors),
        retry_delay=_duration(_find_key(err, "retryDelay")),
    )


def classify_google(
    response: httpx.Response, settings: GoogleAdsSettings | None = None
) -> RetryDecision | None:
    settings = settings or GoogleAdsSettings()
    content = response.content
    # A 2xx is fine unless it is a searchStream array ending with an error element.
    if response.status_code < 300 and (
        b'"error"' not in content[-8192:] or not content.lstrip().startswith(b"[")
    ):
        return None
    try:
        failure = parse_google_error(json.loads(content))
    except ValueError:
        return None
    if failure is None:
        return None
    first = failure.errors[0] if failure.errors else None
    code = failure.status or (str(failure.http_code) if failure.http_code else None)
    if first and first.error_code:
        code = f"{code}/{first.error_code}"
    message = first.message if first and first.message else failure.message
    common = {
        "code": code,
        "message": message,
        "request_id": failure.request_id or request_id_from(response),
    }
    leaf_codes = {c.split(".", 1)[-1] for c in failure.error_codes}
    if failure.status in settings.rate_limit_statuses or response.status_code == 429:
        delay = (
            failure.retry_delay if failure.retry_delay is not None else parse_retry_after(response.headers)
        )
        return RetryDecision(True, RateLimitedError, f"Google Ads {code}", delay, rejected=True, **common)
    if failure.status in settings.auth_statuses or response.status_code in (401, 403):
        return RetryDecision(False, AuthError, f"Google Ads {code}", **common)
    if (
        failure.status in settings.transient_statuses
        or leaf_codes & settings.transient_error_codes
        or response.status_code >= 500
    ):
        return RetryDecision(
            True, TransientError, f"Google Ads {code}", parse_retry_after(response.headers), **common
        )
    return RetryDecision(False, PermanentError, f"Google Ads {code}", **common)


# ---------------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------------
def _results(batches: Iterable[Page | Mapping[str, Any] | list[Any]]) -> Iterator[Mapping[str, Any]]:
    for item in batches:
        body = page_body(item)
        for batch in body if isinstance(body, list) else [body]:
            if not isinstance(batch, Mapping):
                raise PermanentError("unexpected Google Ads batch shape", platform=PLATFORM)
            if "error" in batch:
                raise PermanentError(
                    f"Google Ads batch carries an error: {batch['error']}", platform=PLATFORM
                )
            yield from batch.get("results", []) or []


def _get(row: Mapping[str, Any], *path: str) -> Any:
    cur: Any = row
    for key in path:
        if not (type(cur) is dict or isinstance(cur, Mapping)):
            return None
        cur = cur.get(key)
    return cur


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _last_segment(resource_name: Any) -> str | None:
    if not isinstance(resource_name, str) or "/" not in resource_name:
        return None
    return resource_name.rsplit("/", 1)[1].split("~")[-1]


# What AD_DAILY_STATS_GAQL rows hold (resource.field, one level down), and what they cannot do without:
# Google leaves out zero metrics, so only these identify a missing column.
AD_STATS_FIELDS = frozenset(
    {"campaign.resourceName", "campaign.id", "campaign.name", "adGroup.resourceName", "adGroup.id",
     "adGroup.name", "adGroupAd.resourceName", "adGroupAd.ad", "customer.resourceName",
     "customer.currencyCode", "metrics.costMicros", "metrics.impressions", "metrics.clicks",
     "metrics.conversions", "metrics.conversionsValue", "segments.date"}
)  # fmt: skip
AD_STATS_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("segments", "date"),
    ("campaign", "id"),
    ("campaign", "name"),
    ("adGroup", "id"),
    ("adGroupAd", "ad", "id"),
    ("customer", "currencyCode"),
)
_RESOURCES = ("campaign", "adGroup", "adGroupAd", "customer", "metrics", "segments")


def parse_ad_stats(
    batches: Iterable[Any], tenant_id: str, customer_id: str, *, report: ParseReport | None = None
) -> pl.DataFrame:
    """searchStream batches of AD_DAILY_STATS_GAQL -> raw.google_ads_ad_stats. cost_micros is the exact
    Int64 of the string; metrics Google omits (zero) come back as 0. Built column by column.

    Drift (connectors/drift.py): unexpected fields and metrics sent as text are reported to `report`;
    rows without a required field, or with a number that reads two ways, are marked for quarantine."""
    rows = list(_results(batches))
    source = "google_ads_ad_stats"
    issues = RowIssues()
    keys = {k for k in row_keys(rows, _RESOURCES) if "." in k}
    new_fields(keys, AD_STATS_FIELDS, source=source, report=report)
    missing_fields(rows, AD_STATS_REQUIRED, source=source, report=report, issues=issues)
    customers = [_node(r, "customer") for r in rows]
    campaigns = [_node(r, "campaign") for r in rows]
    groups = [_node(r, "adGroup") for r in rows]
    metrics = [r.get("metrics") or {} for r in rows]
    columns: dict[str, Any] = {
        "tenant_id": [tenant_id] * len(rows),
        "customer_id": [_id(_field(c, "id")) or customer_id for c in customers],
        "date": to_dates([_get(r, "segments", "date") for r in rows]),
        "campaign_id": [_id(_field(c, "id")) for c in campaigns],
        "campaign_name": [_field(c, "name") for c in campaigns],
        "ad_group_id": [_id(_field(g, "id")) for g in groups],
        "ad_group_name": [_field(g, "name") for g in groups],
        "ad_id": [_id(_get(r, "adGroupAd", "ad", "id")) for r in rows],
        "currency_code": [_field(c, "currencyCode") for c in customers],
        "cost_micros": _metric(metrics, "costMicros", "int", issues, report),
        "impressions": _metric(metrics, "impressions", "int", issues, report),
        "clicks": _metric(metrics, "clicks", "int", issues, report),
        "conversions": _metric(metrics, "conversions", "float", issues, report),
        "conversions_value": _metric(metrics, "conversionsValue", "float", issues, report),
    }
    return issues.mark(frame_from_columns("google_ads_ad_stats", columns))


def _metric(
    metrics: list[Mapping[str, Any]],
    name: str,
    kind: Any,
    issues: RowIssues,
    report: ParseReport | None,
) -> pl.Series:
    """A metric per row, exact (0 where Google left it out: zero); text read by `read_number`."""
    zero = "0" if kind == "int" else 0.0
    # `in` then `[]`, not .get(): the row's "metrics" is used as sent, whatever its type.
    values = [m[name] if name in m else zero for m in metrics]  # noqa: SIM401
    return number_column(
        name, values, kind, source="google_ads_ad_stats", report=report, issues=issues,
        field_name=f"metrics.{name}",
    )  # fmt: skip


_NOT_A_NODE: Any = object()


def _node(row: Mapping[str, Any], key: str) -> Any:
    """`row[key]` when `row` is a mapping (the first step of `_get`)."""
    return row.get(key) if type(row) is dict or isinstance(row, Mapping) else _NOT_A_NODE


def _field(node: Any, key: str) -> Any:
    """The last step of `_get`: `node[key]`, None when `node` is not a mapping."""
    return node.get(key) if type(node) is dict or isinstance(node, Mapping) else None


def _metric_ints(metrics: list[Mapping[str, Any]], name: str) -> pl.Series:
    """A metric as exact Int64 per row (`to_int` of the string), 0 where Google left it out (zero)."""
    # `in` then `[]`, not .get(): the row's "metrics" is used as sent, whatever its type.
    return int_column(name, [m[name] if name in m else "0" for m in metrics])  # noqa: SIM401


def _metric_floats(metrics: list[Mapping[str, Any]], name: str) -> list[float | None]:
    """A metric as float per row (`to_float`), 0.0 where Google left it out (zero)."""
    out: list[float | None] = []
    for m in metrics:
        if name in m:
            v = m[name]
            out.append(v if type(v) is float else to_float(v))
        else:
            out.append(0.0)
    return out


# What the entity queries' rows hold (resource.field, one level down; Google adds each resource's
# resourceName), and the fields a row cannot do without (absent: quarantined with the reason).
CAMPAIGN_ROW_FIELDS = frozenset(
    {"campaign", "campaignBudget", "campaign.resourceName", "campaign.id", "campaign.name", "campaign.status",
     "campaign.campaignBudget", "campaign.biddingStrategyType", "campaign.targetCpa",
     "campaign.maximizeConversions", "campaignBudget.resourceName", "campaignBudget.id",
     "campaignBudget.amountMicros"}
)  # fmt: skip
AD_GROUP_ROW_FIELDS = frozenset(
    {"campaign", "adGroup", "campaign.resourceName", "campaign.id", "adGroup.resourceName", "adGroup.id",
     "adGroup.name", "adGroup.status", "adGroup.campaign"}
)  # fmt: skip
AD_ROW_FIELDS = frozenset(
    {"campaign", "adGroup", "adGroupAd", "campaign.resourceName", "campaign.id", "adGroup.resourceName",
     "adGroup.id", "adGroupAd.resourceName", "adGroupAd.ad", "adGroupAd.status", "adGroupAd.adGroup"}
)  # fmt: skip
# Micros (int64, sent as decimal strings) the campaign query carries.
CAMPAIGN_MICROS: tuple[tuple[str, ...], ...] = (
    ("campaignBudget", "amountMicros"),
    ("campaign", "targetCpa", "targetCpaMicros"),
    ("campaign", "maximizeConversions", "targetCpaMicros"),
)


def _entity_rows(
    batches: Iterable[Any],
    source: str,
    expected: frozenset[str],
    resources: Sequence[str],
    required: Sequence[tuple[str, ...]],
    report: ParseReport | None,
    *,
    text_numbers: Mapping[tuple[str, ...], Any] | None = None,
) -> tuple[list[Mapping[str, Any]], RowIssues]:
    """An entity query's rows and their drift checks (connectors/drift.py): fields beyond `expected`
    (resources and `resource.field`) are reported `new_column`; a row without a `required` field is
    marked for quarantine (`missing_column`); micros sent as formatted text ("11,000,000") are read
    exactly and reported `type_changed` (marked when they read two ways)."""
    rows = list(_results(batches))
    issues = check_rows(rows, source=source, report=report, expected=expected, nested=resources,
                        required=required, text_numbers=text_numbers)  # fmt: skip
    return rows, issues


def _absent_parent(
    rows: Sequence[Mapping[str, Any]],
    own: tuple[str, ...],
    fallback: tuple[str, ...],
    issues: RowIssues,
    *,
    source: str,
    report: ParseReport | None,
) -> None:
    """Rows whose parent id is neither sent as `own` (e.g. campaign.id) nor readable from the
    resource name at `fallback` (e.g. adGroup.campaign) are marked: the parent is not guessed."""
    fallback_absent = set(absent_rows(rows, fallback))
    gone = [i for i in absent_rows(rows, own) if i in fallback_absent]
    mark_absent(".".join(own), gone, source=source, report=report, issues=issues)


def parse_campaigns(
    batches: Iterable[Any], tenant_id: str, customer_id: str, *, report: ParseReport | None = None
) -> pl.DataFrame:
    """CAMPAIGNS_GAQL batches -> raw.google_ads_campaigns (budget and target CPA in micros, exact).
    Drift: unknown fields, an absent campaign.id / campaign.status (quarantined with the reason), micros
    sent as formatted text (read exactly) go to `report`."""
    source = "google_ads_campaigns"
    results, issues = _entity_rows(
        batches, source, CAMPAIGN_ROW_FIELDS, ("campaign", "campaignBudget"),
        (("campaign", "id"), ("campaign", "status")), report, text_numbers=dict.fromkeys(CAMPAIGN_MICROS, "int"),
    )  # fmt: skip
    rows = []
    for r in results:
        target = _get(r, "campaign", "targetCpa", "targetCpaMicros")
        if target is None:
            target = _get(r, "campaign", "maximizeConversions", "targetCpaMicros")
        budget_id = _id(_get(r, "campaignBudget", "id")) or _last_segment(
            _get(r, "campaign", "campaignBudget")
        )
        rows.append(
            {
                "tenant_id": tenant_id,
                "customer_id": customer_id,
                "campaign_id": _id(_get(r, "campaign", "id")),
                "name": _get(r, "campaign", "name"),
                "status": _get(r, "campaign", "status"),
                "budget_id": budget_id,
                "budget_amount_micros": to_int(_get(r, "campaignBudget", "amountMicros")),
                "target_cpa_micros": to_int(target),
            }
        )
    return issues.mark(frame_from_rows(source, rows))


BUDGET_CHANGES_GAQL = (
    "SELECT change_event.resource_name, change_event.change_date_time, change_event.change_resource_name, "
    "change_event.resource_change_operation, change_event.campaign, "
    "change_event.old_resource.campaign_budget.amount_micros, "
    "change_event.new_resource.campaign_budget.amount_micros FROM change_event "
    "WHERE change_event.change_date_time >= '{since} 00:00:00' "
    "AND change_event.change_date_time <= '{until} 23:59:59.999999' "
    "AND change_event.change_resource_type = 'CAMPAIGN_BUDGET' "
    "ORDER BY change_event.change_date_time LIMIT {limit}"
)
CHANGE_EVENT_LIMIT = 10_000  # the API's maximum (a LIMIT is required on change_event)
CHANGE_EVENT_DAYS = 30  # change_event keeps this many days


def parse_budget_changes(batches: Iterable[Any], tenant_id: str, customer_id: str) -> pl.DataFrame:
    """change_event batches (BUDGET_CHANGES_GAQL) -> raw.google_ads_budget_changes. change_date_time
    is the account's time zone as sent; change_date is its day; amounts stay in micros."""
    rows = []
    for r in _results(batches):
        stamp = _get(r, "changeEvent", "changeDateTime")
        try:
            moment = datetime.fromisoformat(str(stamp))
        except ValueError as exc:
            raise PermanentError(
                f"Google Ads change_event {_get(r, 'changeEvent', 'resourceName')!r}: bad changeDateTime "
                f"{stamp!r}",
                platform=PLATFORM,
            ) from exc
        rows.append(
            {
                "tenant_id": tenant_id,
                "customer_id": customer_id,
                "resource_name": _get(r, "changeEvent", "resourceName"),
                "change_date_time": moment.replace(tzinfo=None),
                "change_date": moment.date(),
                "campaign_id": _last_segment(_get(r, "changeEvent", "campaign")),
                "budget_id": _last_segment(_get(r, "changeEvent", "changeResourceName")),
                "operation": _get(r, "changeEvent", "resourceChangeOperation"),
                "old_amount_micros": to_int(
                    _get(r, "changeEvent", "oldResource", "campaignBudget", "amountMicros")
                ),
                "new_amount_micros": to_int(
                    _get(r, "changeEvent", "newResource", "campaignBudget", "amountMicros")
                ),
            }
        )
    return frame_from_rows("google_ads_budget_changes", rows)


def parse_ad_groups(
    batches: Iterable[Any], tenant_id: str, customer_id: str, *, report: ParseReport | None = None
) -> pl.DataFrame:
    """AD_GROUPS_GAQL batches -> raw.google_ads_ad_groups. Drift: unknown fields, an absent
    adGroup.id / adGroup.status, or a campaign named neither by campaign.id nor adGroup.campaign
    (quarantined with the reason) go to `report`."""
    source = "google_ads_ad_groups"
    results, issues = _entity_rows(batches, source, AD_GROUP_ROW_FIELDS, ("campaign", "adGroup"),
                                   (("adGroup", "id"), ("adGroup", "status")), report)  # fmt: skip
    _absent_parent(results, ("campaign", "id"), ("adGroup", "campaign"), issues, source=source, report=report)
    rows = [
        {
            "tenant_id": tenant_id,
            "customer_id": customer_id,
            "campaign_id": _id(_get(r, "campaign", "id")) or _last_segment(_get(r, "adGroup", "campaign")),
            "ad_group_id": _id(_get(r, "adGroup", "id")),
            "name": _get(r, "adGroup", "name"),
            "status": _get(r, "adGroup", "status"),
        }
        for r in results
    ]
    return issues.mark(frame_from_rows(source, rows))


def parse_ads(
    batches: Iterable[Any], tenant_id: str, customer_id: str, *, report: ParseReport | None = None
) -> pl.DataFrame:
    """ADS_GAQL batches -> raw.google_ads_ads. Drift: unknown fields, an absent adGroupAd.ad.id /
    adGroupAd.status / campaign.id, or an ad group named neither by adGroup.id nor adGroupAd.adGroup
    (quarantined with the reason) go to `report`."""
    source = "google_ads_ads"
    results, issues = _entity_rows(
        batches, source, AD_ROW_FIELDS, ("campaign", "adGroup", "adGroupAd"),
        (("adGroupAd", "ad", "id"), ("adGroupAd", "status"), ("campaign", "id")), report,
    )  # fmt: skip
    _absent_parent(results, ("adGroup", "id"), ("adGroupAd", "adGroup"), issues, source=source, report=report)
    rows = [
        {
            "tenant_id": tenant_id,
            "customer_id": customer_id,
            "campaign_id": _id(_get(r, "campaign", "id")),
            "ad_group_id": _id(_get(r, "adGroup", "id")) or _last_segment(_get(r, "adGroupAd", "adGroup")),
            "ad_id": _id(_get(r, "adGroupAd", "ad", "id")),
            "name": _get(r, "adGroupAd", "ad", "name"),
            "status": _get(r, "adGroupAd", "status"),
        }
        for r in results
    ]
    return issues.mark(frame_from_rows(source, rows))


# ---------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------
@dataclass
class MutateResult:
    """`results[i]` is the resource name of operation i (None where it failed or validate_only);
    `partial_failures` lists per-operation errors (operation_index set) from partialFailureError."""

    results: list[str | None]
    partial_failures: list[GoogleAdsErrorDetail] = field(default_factory=list)
    request_id: str | None = None
    validate_only: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.partial_failures

    def failed_indexes(self) -> set[int]:
        return {e.operation_index for e in self.partial_failures if e.operation_index is not None}


def parse_mutate_response(
    body: Mapping[str, Any], n_ops: int, *, validate_only: bool = False
) -> MutateResult:
    results: list[str | None] = [None] * n_ops
    for i, item in enumerate(body.get("results", []) or []):
        if i < n_ops and isinstance(item, Mapping):
            results[i] = item.get("resourceName") or None
    failures: list[GoogleAdsErrorDetail] = []
    partial = body.get("partialFailureError")
    request_id = body.get("requestId")
    if isinstance(partial, Mapping) and partial:
        parsed = parse_google_error({"error": partial})
        if parsed is not None:
            failures = list(parsed.errors)
            request_id = request_id or parsed.request_id
            for e in failures:
                if e.operation_index is not None and 0 <= e.operation_index < n_ops:
                    results[e.operation_index] = None
    return MutateResult(results, failures, request_id, validate_only, dict(body))


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------
def _customer(value: str | int) -> str:
    digits = str(value).replace("-", "").strip()
    if not digits.isdigit():
        raise ValueError(f"Google Ads customer id must be digits (dashes allowed): {value!r}")
    return digits


class GoogleAdsClient:
    """Google Ads REST client. Use as a context manager."""

    def __init__(
        self,
        access_token: str,
        developer_token: str,
        customer_id: str | int,
        *,
        login_customer_id: str | int | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        landing: LandingZone | None = None,
        tenant_id: str | None = None,
        settings: GoogleAdsSettings | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not access_token or not developer_token:
            raise AuthError("Google Ads access token and developer token are required", platform=PLATFORM)
        settings = settings or GoogleAdsSettings()
        if api_version:
            settings = dataclasses.replace(settings, api_version=api_version)
        self.settings = settings
        self.customer_id = _customer(customer_id)
        self.tenant_id = tenant_id
        self.landing = landing
        self.report = ParseReport()  # drift the parsers noticed (pipelines/ drains it)
        headers = {
            "Authorization": f"Bearer {access_token}",
            "developer-token": developer_token,
            "Accept": "application/json",
        }
        if login_customer_id is not None:
            headers["login-customer-id"] = _customer(login_customer_id)
        self.http = HttpClient(
            base_url or f"https://googleads.googleapis.com/{settings.api_version}",
            headers=headers,
            timeout=timeout,
            retry=retry,
            transport=transport,
            secrets=(access_token, developer_token),
            sleep=sleep,
            rng=rng,
            platform=PLATFORM,
            classify=lambda r: classify_google(r, settings),
        )

    def __enter__(self) -> GoogleAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"GoogleAdsClient(customer_id={self.customer_id!r}, tenant_id={self.tenant_id!r})"

    def _tenant(self) -> str:
        if not self.tenant_id:
            raise ValueError("tenant_id is required (pass it to the client)")
        return self.tenant_id

    def _land(self, source: str, partition: str, seq: int, result: Any) -> Any:
        if self.landing is None:
            return None
        return self.landing.save_page(
            source, self._tenant(), partition, seq, result.content, self.http.landing_meta(result)
        )

    # -- reads --------------------------------------------------------------------------------------
    def search_stream_page(
        self, query: str, *, source: str = "google_ads_search", partition: str | None = None
    ) -> Page:
        """POST customers/{id}/googleAds:searchStream once; the whole answer (a JSON array of batches) is
        one landed page."""
        result = self.http.post_json(
            f"customers/{self.customer_id}/googleAds:searchStream", json={"query": query}, idempotent=True
        )
        if not isinstance(result.data, list):
            raise PermanentError(
                "unexpected searchStream answer: not a JSON array",
                platform=PLATFORM,
                request_id=result.request_id,
            )
        part = partition or "q-" + hashlib.sha256(query.encode()).hexdigest()[:16]
        page = Page(result.data, 0, self.http.landing_meta(result))
        page.landing_path = self._land(source, part, 0, result)
        if self.landing is not None:
            self.landing.finish_partition(source, self._tenant(), part, 1)
        return page

    def search_stream(
        self, query: str, *, source: str = "google_ads_search", partition: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the batches (`{"results": [...], "fieldMask", "requestId"}`) of a GAQL query."""
        yield from self.search_stream_page(query, source=source, partition=partition).data

    def iter_search_pages(
        self, query: str, *, source: str = "google_ads_search", partition: str | None = None
    ) -> Iterator[Page]:
        """googleAds:search, following nextPageToken until absent (one page at a time)."""
        part = partition or "q-" + hashlib.sha256(query.encode()).hexdigest()[:16]
        seq = 0

        def fetch(token: str | None) -> Page:
            nonlocal seq
            body: dict[str, Any] = {"query": query}
            if token:
                body["pageToken"] = token
            result = self.http.post_json(
                f"customers/{self.customer_id}/googleAds:search", json=body, idempotent=True
            )
            if not isinstance(result.data, dict):
                raise PermanentError(
                    "unexpected search answer", platform=PLATFORM, request_id=result.request_id
                )
            page = Page(result.data, seq, self.http.landing_meta(result))
            page.landing_path = self._land(source, part, seq, result)
            seq += 1
            return page

        yield from iter_pages(fetch, lambda p: p.data.get("nextPageToken"), platform=PLATFORM)
        if self.landing is not None:
            self.landing.finish_partition(source, self._tenant(), part, seq)

    def ad_stats_pages(self, since: date | str, until: date | str) -> list[Page]:
        s, u = _iso(since), _iso(until)
        query = AD_DAILY_STATS_GAQL.format(since=s, until=u)
        return [self.search_stream_page(query, source="google_ads_ad_stats", partition=_partition(s, u))]

    def fetch_ad_stats(self, since: date | str, until: date | str) -> pl.DataFrame:
        return parse_ad_stats(
            self.ad_stats_pages(since, until), self._tenant(), self.customer_id, report=self.report
        )

    def list_campaigns(self) -> pl.DataFrame:
        page = self.search_stream_page(CAMPAIGNS_GAQL, source="google_ads_campaigns", partition="snapshot")
        return parse_campaigns([page], self._tenant(), self.customer_id, report=self.report)

    def list_ad_groups(self) -> pl.DataFrame:
        page = self.search_stream_page(AD_GROUPS_GAQL, source="google_ads_ad_groups", partition="snapshot")
        return parse_ad_groups([page], self._tenant(), self.customer_id, report=self.report)

    def list_ads(self) -> pl.DataFrame:
        page = self.search_stream_page(ADS_GAQL, source="google_ads_ads", partition="snapshot")
        return parse_ads([page], self._tenant(), self.customer_id, report=self.report)

    def fetch_budget_changes(
        self, since: date | str, until: date | str, *, limit: int = CHANGE_EVENT_LIMIT
    ) -> pl.DataFrame:
        """Campaign budget changes (change_event) made on days [since, until], which must lie within
        the last CHANGE_EVENT_DAYS days. Pages by date window: a window whose answer fills the LIMIT
        is split in halves and asked again (a single day that fills it is a PermanentError)."""
        if not 1 <= limit <= CHANGE_EVENT_LIMIT:
            raise ValueError(f"limit must be 1..{CHANGE_EVENT_LIMIT}: {limit}")
        first, last = date.fromisoformat(_iso(since)), date.fromisoformat(_iso(until))
        if first > last:
            raise ValueError(f"fetch_budget_changes: since {first} is after until {last}")
        pages: list[Page] = []
        windows = [(first, last)]
        while windows:
            lo, hi = windows.pop(0)
            query = BUDGET_CHANGES_GAQL.format(since=lo.isoformat(), until=hi.isoformat(), limit=limit)
            page = self.search_stream_page(
                query,
                source="google_ads_budget_changes",
                partition=_partition(lo.isoformat(), hi.isoformat()),
            )
            n = sum(len(b.get("results") or []) for b in page.data if isinstance(b, Mapping))
            if n >= limit:
                if lo == hi:
                    raise PermanentError(
                        f"Google Ads change_event: {lo} alone has {limit}+ budget changes (the LIMIT)",
                        platform=PLATFORM,
                    )
                mid = lo + (hi - lo) // 2
                windows[:0] = [(lo, mid), (mid + timedelta(days=1), hi)]
                continue
            pages.append(page)
        return parse_budget_changes(pages, self._tenant(), self.customer_id)

    # -- writes -------------------------------------------------------------------------------------
    def resource_name(self, collection: str, value: str | int) -> str:
        """Accept an id ("3"), or a full resource name of this customer."""
        text = str(value)
        prefix = f"customers/{self.customer_id}/{collection}/"
        if text.startswith("customers/"):
            if not text.startswith(prefix) or not re.fullmatch(r"[\d~]+", text[len(prefix) :]):
                raise ValueError(f"not a {collection} resource of customer {self.customer_id}: {text!r}")
            return text
        if not re.fullmatch(r"\d+(~\d+)?", text):
            raise ValueError(f"bad {collection} id: {text!r}")
        return prefix + text

    def ad_group_ad_resource(self, ad_group_id: str | int, ad_id: str | int) -> str:
        return self.resource_name("adGroupAds", f"{ad_group_id}~{ad_id}")

    def _mutate(
        self,
        collection: str,
        operations: list[dict[str, Any]],
        *,
        validate_only: bool,
        partial_failure: bool,
        idempotency_key: str | None,
    ) -> MutateResult:
        if not operations:
            return MutateResult([], validate_only=validate_only)
        body = {"operations": operations, "partialFailure": partial_failure, "validateOnly": validate_only}
        result = self.http.post_json(
            f"customers/{self.customer_id}/{collection}:mutate",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True if validate_only else None,  # a dry run changes nothing: safe to retry
        )
        data = result.data if isinstance(result.data, dict) else {}
        out = parse_mutate_response(data, len(operations), validate_only=validate_only)
        out.request_id = out.request_id or result.request_id
        return out

    def mutate_campaign_budgets(
        self,
        ops: Sequence[tuple[str | int, int]],
        *,
        validate_only: bool = False,
        partial_failure: bool = True,
        idempotency_key: str | None = None,
    ) -> MutateResult:
        """Set campaign budgets: ops are (budget resource name or id, amount_micros). A shared budget
        moves every campaign using it."""
        operations = []
        for budget, micros in ops:
            if isinstance(micros, bool) or int(micros) != micros or micros <= 0:
                raise ValueError(f"amount_micros must be a positive integer: {micros!r}")
            operations.append(
                {
                    "update": {
                        "resourceName": self.resource_name("campaignBudgets", budget),
                        "amountMicros": str(int(micros)),
                    },
                    "updateMask": "amount_micros",
                }
            )
        return self._mutate(
            "campaignBudgets", operations, validate_only=validate_only,
            partial_failure=partial_failure, idempotency_key=idempotency_key,
        )  # fmt: skip

    def _status_ops(self, collection: str, changes: Sequence[tuple[str | int, str]]) -> list[dict[str, Any]]:
        operations = []
        for target, status in changes:
            if status not in self.settings.valid_statuses:
                raise ValueError(f"status must be one of {sorted(self.settings.valid_statuses)}: {status!r}")
            operations.append(
                {
                    "update": {"resourceName": self.resource_name(collection, target), "status": status},
                    "updateMask": "status",
                }
            )
        return operations

    def mutate_campaigns(
        self,
        changes: Sequence[tuple[str | int, str]],
        *,
        validate_only: bool = False,
        partial_failure: bool = True,
        idempotency_key: str | None = None,
    ) -> MutateResult:
        """Status changes: (campaign resource name or id, "ENABLED"|"PAUSED")."""
        return self._mutate(
            "campaigns", self._status_ops("campaigns", changes), validate_only=validate_only,
            partial_failure=partial_failure, idempotency_key=idempotency_key,
        )  # fmt: skip

    def mutate_ad_group_ads(
        self,
        changes: Sequence[tuple[str, str]],
        *,
        validate_only: bool = False,
        partial_failure: bool = True,
        idempotency_key: str | None = None,
    ) -> MutateResult:
        """Status changes: (adGroupAd resource name or "adgroupid~adid", "ENABLED"|"PAUSED")."""
        return self._mutate(
            "adGroupAds", self._status_ops("adGroupAds", changes), validate_only=validate_only,
            partial_failure=partial_failure, idempotency_key=idempotency_key,
        )  # fmt: skip


def _iso(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else date.fromisoformat(str(value)).isoformat()


def _partition(since: str, until: str) -> str:
    return since if since == until else f"{since}_{until}"
