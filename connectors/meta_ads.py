"""Meta Marketing API (Graph API) connector: insights, entities, writes (status, daily budget).

Wire format (../shared/PLATFORMS.md): numbers are strings ("53.39"), conversions are `actions` arrays,
paging follows `paging.next` until it is absent, throttling arrives as an error body (often HTTP 400) with
code 17/4/32/613/80000-80014 and usage headers carrying `estimated_time_to_regain_access` in minutes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx
import polars as pl

from connectors.contracts import (
    frame_from_columns,
    frame_from_rows,
    to_dates,
    to_decimal,
    to_float,
    to_int,
)
from connectors.drift import (
    ParseReport,
    RowIssues,
    check_rows,
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

PLATFORM = "meta"
log = logging.getLogger("connectors.meta_ads")
USAGE_HEADERS = (
    "x-business-use-case-usage",
    "x-app-usage",
    "x-ad-account-usage",
    "x-fb-ads-insights-throttle",
)

DEFAULT_INSIGHTS_FIELDS: tuple[str, ...] = (
    "account_id",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "spend",
    "impressions",
    "clicks",
    "actions",
    "action_values",
    "date_start",
    "date_stop",
)
CAMPAIGN_FIELDS: tuple[str, ...] = ("id", "name", "status", "objective")
ADSET_FIELDS: tuple[str, ...] = (
    "id",
    "campaign_id",
    "name",
    "status",
    "daily_budget",
    "bid_strategy",
    "bid_amount",
)
# Insights fields a row cannot do without (when asked for): absent ones quarantine the row.
INSIGHTS_REQUIRED: tuple[str, ...] = (
    "date_start",
    "ad_id",
    "spend",
    "impressions",
    "clicks",
    "account_currency",
)
AD_FIELDS: tuple[str, ...] = ("id", "adset_id", "campaign_id", "name", "status", "created_time")
# Entity listings: the fields a row cannot do without (absent: the row is quarantined with the reason).
CAMPAIGN_REQUIRED: tuple[str, ...] = ("id", "status")
ADSET_REQUIRED: tuple[str, ...] = ("id", "campaign_id", "status")
AD_REQUIRED: tuple[str, ...] = ("id", "adset_id", "status")
WRITABLE_STATUSES = frozenset({"ACTIVE", "PAUSED", "ARCHIVED"})


@dataclass(frozen=True)
class MetaPacing:
    """Slow down before Meta throttles: above `threshold_pct` usage (any usage header), sleep
    proportionally up to `max_sleep` seconds at 100%."""

    threshold_pct: float = 80.0
    max_sleep: float = 30.0
    enabled: bool = True

    def wait_for(self, usage_pct: float) -> float:
        if not self.enabled or usage_pct <= self.threshold_pct:
            return 0.0
        span = max(100.0 - self.threshold_pct, 1e-9)
        return self.max_sleep * min(1.0, (usage_pct - self.threshold_pct) / span)


@dataclass(frozen=True)
class MetaSettings:
    """Everything about Meta that may change lives here, not in code."""

    api_version: str = "v21.0"
    page_size: int = 500
    insights_fields: tuple[str, ...] = DEFAULT_INSIGHTS_FIELDS
    #: action_types that count as a conversion, in priority order.
    conversion_action_types: tuple[str, ...] = ("offsite_conversion.fb_pixel_purchase", "purchase")
    #: "first": take the first listed action_type present in a row (Meta reports the same purchases
    #: under several action_types, so summing them double counts); "sum": add all listed types.
    conversion_aggregation: Literal["first", "sum"] = "first"
    throttle_codes: frozenset[int] = frozenset({4, 17, 32, 613, *range(80000, 80015)})
    transient_codes: frozenset[int] = frozenset({1, 2})
    auth_codes: frozenset[int] = frozenset({10, 102, 190, *range(200, 300)})
    pacing: MetaPacing = field(default_factory=MetaPacing)
    #: Ranges longer than this many days go through an async report job (so does any sync call Meta
    #: answers "Please reduce the amount of data", code 1 / subcode 1487534).
    async_min_days: int = 93
    async_poll_interval: float = 5.0  # first wait between polls; grows by `async_poll_backoff`
    async_poll_backoff: float = 1.5
    async_poll_max_interval: float = 60.0
    async_max_polls: int = 120
    async_max_jobs: int = 3  # a job that ends "Job Failed"/"Job Skipped" is started again, this often
    too_much_data_subcodes: frozenset[int] = frozenset({1487534})


class MetaTooMuchDataError(PermanentError):
    """Meta refused a sync insights call as too large: ask again through an async report job."""


# ---------------------------------------------------------------------------------------------------
# Throttle signals
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetaUsage:
    max_pct: float = 0.0
    regain_seconds: float | None = None


def parse_usage(headers: Mapping[str, str]) -> MetaUsage:
    """Highest usage percentage across Meta's usage headers, and the longest regain-access estimate."""
    pcts: list[float] = []
    regain: list[float] = []

    def visit(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                if k in {"call_count", "total_cputime", "total_time", "acc_id_util_pct", "app_id_util_pct"}:
                    f = to_float(v)
                    if f is not None:
                        pcts.append(f)
                elif k == "estimated_time_to_regain_access":
                    f = to_float(v)
                    if f is not None and f > 0:
                        regain.append(f * 60.0)  # minutes
                elif k == "reset_time_duration":
                    f = to_float(v)
                    if f is not None and f > 0:
                        regain.append(f)  # seconds
                else:
                    visit(v)
        elif isinstance(obj, list):
            for item in obj:
                visit(item)

    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            visit(json.loads(raw))
        except ValueError:
            continue
    return MetaUsage(max(pcts, default=0.0), max(regain) if regain else None)


def _error_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else None


def classify_meta(response: httpx.Response, settings: MetaSettings | None = None) -> RetryDecision | None:
    """Read a Graph API error body. Throttles (codes 17/4/32/613/80000-80014, in HTTP 400 or 403 bodies
    too) are rate-limit rejections; codes 1/2 or `is_transient` are transient; 190 and permission codes
    are auth errors; anything else non-2xx is permanent unless it is a 5xx."""
    settings = settings or MetaSettings()
    if response.status_code < 300:
        return None
    err = _error_body(response)
    if err is None:
        return None  # no Graph error body: status-code rules apply
    code = to_int(err.get("code"))
    subcode = to_int(err.get("error_subcode"))
    code_text = f"{code}/{subcode}" if subcode else (str(code) if code is not None else None)
    message = str(err.get("error_user_msg") or err.get("message") or "")
    request_id = err.get("fbtrace_id") or request_id_from(response)
    common = {"code": code_text, "message": message, "request_id": request_id}
    if code == 1 and (
        subcode in settings.too_much_data_subcodes or "reduce the amount of data" in message.lower()
    ):
        return RetryDecision(False, MetaTooMuchDataError, "Meta: too much data for a sync call", **common)
    if code in settings.throttle_codes or response.status_code == 429:
        usage = parse_usage(response.headers)
        delay = usage.regain_seconds
        if delay is None:
            delay = parse_retry_after(response.headers)
        return RetryDecision(
            True, RateLimitedError, f"Meta throttled (code {code_text})", delay, rejected=True, **common
        )
    if code in settings.auth_codes or response.status_code in (401, 403):
        return RetryDecision(False, AuthError, f"Meta auth error (code {code_text})", **common)
    if code in settings.transient_codes or err.get("is_transient") is True or response.status_code >= 500:
        return RetryDecision(
            True, TransientError, f"Meta transient error (code {code_text})",
            parse_retry_after(response.headers), **common,
        )  # fmt: skip
    return RetryDecision(False, PermanentError, f"Meta error (code {code_text})", **common)


def meta_pacer(pacing: MetaPacing) -> Callable[[httpx.Response], float]:
    def pace(response: httpx.Response) -> float:
        return pacing.wait_for(parse_usage(response.headers).max_pct)

    return pace


# ---------------------------------------------------------------------------------------------------
# Parsers (pure): JSON pages -> raw.* frames
# ---------------------------------------------------------------------------------------------------
def _rows(pages: Iterable[Page | Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for page in pages:
        body = page_body(page)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise PermanentError("unexpected Meta page shape: no 'data' list", platform=PLATFORM)
        yield from body["data"]


def _digits(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[4:] if text.startswith("act_") else text


def sum_actions(
    actions: Any, action_types: Sequence[str], aggregation: Literal["first", "sum"] = "first"
) -> Decimal | None:
    """Total of `actions` entries whose action_type is listed (exact Decimal; None when none match)."""
    if not isinstance(actions, list):
        return None
    by_type: dict[str, Decimal] = {}
    for item in actions:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("action_type")
        value = to_decimal(item.get("value"), scale=6)
        if kind in action_types and value is not None:
            by_type[kind] = by_type.get(kind, Decimal(0)) + value
    if not by_type:
        return None
    if aggregation == "sum":
        return sum(by_type.values(), Decimal(0))
    for kind in action_types:
        if kind in by_type:
            return by_type[kind]
    return None  # pragma: no cover


def parse_insights(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    *,
    account_id: str | None = None,
    settings: MetaSettings | None = None,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """Insights pages -> raw.meta_ads_insights (without `_` metadata columns).

    Drift (connectors/drift.py): fields nobody asked for and numbers sent as formatted text are
    reported to `report`; a row without a required field, or with a number that reads two ways, is
    marked for quarantine with the reason (never loaded as a silent null).

    spend/conversion_value are exact Decimal(18,2) from the strings; impressions/clicks Int64;
    conversions = the configured purchase action_types (Float64); actions kept as JSON text as sent.
    Rows with no matching action get conversions 0 and conversion_value 0.00.

    Built column by column (money and counts cast vectorised when they are plain strings, see
    `connectors.contracts.decimal_column`): the same frame a row-by-row parse gives, several times faster.
    """
    settings = settings or MetaSettings()
    types = settings.conversion_action_types
    agg = settings.conversion_aggregation
    rows = list(_rows(pages))
    if not rows:
        return frame_from_rows("meta_ads_insights", [])
    fallback_account = _digits(account_id)
    source = "meta_ads_insights"
    issues = RowIssues()
    asked = set(settings.insights_fields) | {"date_start", "date_stop"}
    new_fields(row_keys(rows), asked, source=source, report=report)
    required = [(f,) for f in INSIGHTS_REQUIRED if f in asked]
    missing_fields(rows, required, source=source, report=report, issues=issues)

    def number(name: str, kind: Any) -> pl.Series:
        values = [r.get(name) for r in rows]
        return number_column(name, values, kind, source=source, report=report, issues=issues)

    actions = [r.get("actions") for r in rows]
    conv = _action_totals(actions, types, agg)
    conv_value = _action_totals([r.get("action_values") for r in rows], types, agg)
    zero = Decimal("0.00")
    columns: dict[str, Any] = {
        "tenant_id": [tenant_id] * len(rows),
        "account_id": [_digits(r.get("account_id")) or fallback_account for r in rows],
        "date_start": to_dates([r.get("date_start") for r in rows]),
        "campaign_id": _strs(rows, "campaign_id"),
        "campaign_name": _strs(rows, "campaign_name"),
        "adset_id": _strs(rows, "adset_id"),
        "adset_name": _strs(rows, "adset_name"),
        "ad_id": _strs(rows, "ad_id"),
        "ad_name": _strs(rows, "ad_name"),
        "account_currency": _strs(rows, "account_currency"),
        "spend": number("spend", "money"),
        "impressions": number("impressions", "int"),
        "clicks": number("clicks", "int"),
        "conversions": [float(c) if c is not None else 0.0 for c in conv],
        "conversion_value": [to_decimal(v) if v is not None else zero for v in conv_value],
        "actions": [_ACTIONS_JSON(a) if a is not None else None for a in actions],
    }
    return issues.mark(frame_from_columns("meta_ads_insights", columns))


# json.dumps(actions, separators=(",", ":")) without building an encoder per row.
_ACTIONS_JSON = json.JSONEncoder(separators=(",", ":")).encode


def _strs(rows: list[Mapping[str, Any]], key: str) -> list[str | None]:
    """`[_str(r.get(key)) for r in rows]`."""
    return [v if v is None or type(v) is str else str(v) for v in (r.get(key) for r in rows)]


_UNSEEN: Any = object()


def _action_totals(
    column: list[Any], action_types: Sequence[str], aggregation: Literal["first", "sum"]
) -> list[Decimal | None]:
    """`[sum_actions(a, action_types, aggregation) for a in column]`, converting each distinct value
    string once."""
    wanted = frozenset(t for t in action_types if isinstance(t, str))
    values: dict[str, Decimal | None] = {}
    out: list[Decimal | None] = []
    for actions in column:
        if not isinstance(actions, list):
            out.append(None)
            continue
        by_type: dict[str, Decimal] = {}
        for item in actions:
            if not isinstance(item, Mapping):
                continue
            kind = item.get("action_type")
            raw = item.get("value")
            if type(raw) is str:
                value = values.get(raw, _UNSEEN)
                if value is _UNSEEN:
                    value = values[raw] = to_decimal(raw, scale=6)
            else:
                value = to_decimal(raw, scale=6)
            hit = kind in wanted if type(kind) is str else kind in action_types
            if hit and value is not None:
                by_type[kind] = by_type.get(kind, Decimal(0)) + value
        if not by_type:
            out.append(None)
        elif aggregation == "sum":
            out.append(sum(by_type.values(), Decimal(0)))
        else:
            out.append(next((by_type[k] for k in action_types if k in by_type), None))
    return out


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _with_snapshot(frame: pl.DataFrame, snapshot_date: date | None) -> pl.DataFrame:
    if snapshot_date is None:
        return frame
    return frame.with_columns(pl.lit(snapshot_date, dtype=pl.Date).alias("_snapshot_date"))


def _entity_rows(
    pages: Iterable[Page | Mapping[str, Any]],
    source: str,
    fields: Iterable[str],
    required: Iterable[str],
    report: ParseReport | None,
    *,
    numbers: Mapping[tuple[str, ...], Any] | None = None,
    text_numbers: Mapping[tuple[str, ...], Any] | None = None,
) -> tuple[list[Mapping[str, Any]], RowIssues]:
    """An entity listing's rows and their drift checks (connectors/drift.py): fields beyond the asked
    `fields` (Graph always adds `id`; `account_id` is read when sent) are reported `new_column`; a row
    without a `required` field is marked for quarantine (`missing_column`); a number sent as formatted
    text is read exactly and reported `type_changed` (marked when it reads two ways)."""
    rows = list(_rows(pages))
    asked = set(fields) | {"id", "account_id"}
    issues = check_rows(
        rows, source=source, report=report, expected=asked,
        required=[(f,) for f in required], numbers=numbers, text_numbers=text_numbers,
    )  # fmt: skip
    return rows, issues


def parse_campaigns(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    *,
    snapshot_date: date | None = None,
    report: ParseReport | None = None,
    fields: Iterable[str] = CAMPAIGN_FIELDS,
) -> pl.DataFrame:
    """-> raw.meta_ads_campaigns (tenant_id, account_id, id, name, status, objective); `_snapshot_date`
    is added only when `snapshot_date` is given (it is load metadata, normally set by pipelines/).
    Drift: fields beyond the asked `fields`, an absent `id` / `status` (quarantined with the reason), a
    `daily_budget` (minor-unit text) sent formatted, when asked for, go to `report`."""
    rows, issues = _entity_rows(pages, "meta_ads_campaigns", fields, CAMPAIGN_REQUIRED, report,
                                text_numbers={("daily_budget",): "int"})  # fmt: skip
    frame = frame_from_rows(
        "meta_ads_campaigns",
        [
            {
                "tenant_id": tenant_id,
                "account_id": _digits(r.get("account_id")) or _digits(account_id),
                "id": _str(r.get("id")),
                "name": _str(r.get("name")),
                "status": _str(r.get("status")),
                "objective": _str(r.get("objective")),
            }
            for r in rows
        ],
    )
    return _with_snapshot(issues.mark(frame), snapshot_date)


def parse_adsets(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    *,
    report: ParseReport | None = None,
    fields: Iterable[str] = ADSET_FIELDS,
) -> pl.DataFrame:
    """-> raw.meta_ads_adsets; daily_budget and bid_amount stay in minor units (Int64), exact.
    Meta sends `daily_budget` as minor-unit text ("1500") and `bid_amount` as a JSON integer: a budget
    in formatted text ("1,500") or a bid sent as text is read exactly and reported `type_changed`; one
    that reads two ways quarantines its row. Unknown fields and absent `id` / `campaign_id` / `status`
    (quarantined with the reason) go to `report`."""
    rows, issues = _entity_rows(
        pages, "meta_ads_adsets", fields, ADSET_REQUIRED, report,
        numbers={("bid_amount",): "int"}, text_numbers={("daily_budget",): "int"},
    )  # fmt: skip
    frame = frame_from_rows(
        "meta_ads_adsets",
        [
            {
                "tenant_id": tenant_id,
                "account_id": _digits(r.get("account_id")) or _digits(account_id),
                "id": _str(r.get("id")),
                "campaign_id": _str(r.get("campaign_id")),
                "name": _str(r.get("name")),
                "status": _str(r.get("status")),
                "daily_budget": to_int(r.get("daily_budget")),
                "bid_strategy": _str(r.get("bid_strategy")),
                "bid_amount": to_int(r.get("bid_amount")),
            }
            for r in rows
        ],
    )
    return issues.mark(frame)


def parse_ads(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    *,
    report: ParseReport | None = None,
    fields: Iterable[str] = AD_FIELDS,
) -> pl.DataFrame:
    """-> raw.meta_ads_ads; created_time parsed to a naive UTC timestamp. Drift: unknown fields, absent
    `id` / `adset_id` / `status` (quarantined with the reason) go to `report`."""
    rows, issues = _entity_rows(pages, "meta_ads_ads", fields, AD_REQUIRED, report)
    frame = frame_from_rows(
        "meta_ads_ads",
        [
            {
                "tenant_id": tenant_id,
                "account_id": _digits(r.get("account_id")) or _digits(account_id),
                "id": _str(r.get("id")),
                "adset_id": _str(r.get("adset_id")),
                "campaign_id": _str(r.get("campaign_id")),
                "name": _str(r.get("name")),
                "status": _str(r.get("status")),
                "created_time": r.get("created_time"),
            }
            for r in rows
        ],
        timestamp_strings=("created_time",),
    )
    return issues.mark(frame)


ACTIVITY_FIELDS: tuple[str, ...] = ("event_time", "event_type", "object_id", "object_type", "extra_data")
BUDGET_EVENT_TYPES: tuple[str, ...] = (
    "create_campaign_group",
    "update_campaign_budget",
    "create_ad_set",
    "update_ad_set_budget",
)
_OBJECT_TYPES = {"CAMPAIGN": "CAMPAIGN", "CAMPAIGN_GROUP": "CAMPAIGN", "ADSET": "ADSET", "AD_SET": "ADSET"}


def _minor(value: Any, key: str) -> int | None:
    """A budget amount from extra_data: a number, a digit string, or Meta's nested {key: n, currency}."""
    if isinstance(value, dict):
        value = value.get(key)
    if value is None or isinstance(value, bool):
        return None
    return to_int(value)


def parse_budget_changes(
    pages: Iterable[Page | Mapping[str, Any]], tenant_id: str, account_id: str
) -> pl.DataFrame:
    """Activity-log pages -> raw.meta_ads_budget_changes: only budget events (BUDGET_EVENT_TYPES) that
    carry a new budget. event_time becomes naive UTC; event_date is the account-local day (the date
    part of Meta's offset timestamp); amounts stay in minor units. A malformed extra_data is a
    PermanentError naming the event."""
    rows = []
    for r in _rows(pages):
        event_type = _str(r.get("event_type"))
        if event_type not in BUDGET_EVENT_TYPES:
            continue
        raw_time = _str(r.get("event_time")) or ""
        try:
            moment = datetime.strptime(raw_time, "%Y-%m-%dT%H:%M:%S%z")
            extra = json.loads(r.get("extra_data") or "{}")
        except (ValueError, TypeError) as exc:
            raise PermanentError(
                f"Meta activity {event_type} on {r.get('object_id')!r} at {raw_time!r}: unreadable "
                f"event_time or extra_data ({exc})",
                platform=PLATFORM,
            ) from exc
        new_budget = _minor(extra.get("new_value"), "new_value") if isinstance(extra, dict) else None
        if new_budget is None:
            continue  # e.g. an ad set created under a campaign budget: no budget of its own
        rows.append(
            {
                "tenant_id": tenant_id,
                "account_id": _digits(account_id),
                "event_time": moment.astimezone(UTC).replace(tzinfo=None),
                "event_date": moment.date(),
                "event_type": event_type,
                "object_type": _OBJECT_TYPES.get(str(r.get("object_type") or "").upper()),
                "object_id": _str(r.get("object_id")),
                "old_budget": _minor(extra.get("old_value"), "old_value"),
                "new_budget": new_budget,
                "currency": _str(extra.get("currency")),
            }
        )
    return frame_from_rows("meta_ads_budget_changes", rows)


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------
_ID_RE = re.compile(r"^\d+$")


class MetaAdsClient:
    """Meta Marketing API client. Use as a context manager.

    Reads page by page (`iter_*_pages` generators, each page landed before it is yielded when a
    `landing` zone is given); parsers turn pages into raw frames; `fetch_*`/`list_*` do both.
    """

    def __init__(
        self,
        access_token: str,
        account_id: str,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        landing: LandingZone | None = None,
        tenant_id: str | None = None,
        settings: MetaSettings | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not access_token:
            raise AuthError("Meta access token is empty", platform=PLATFORM)
        settings = settings or MetaSettings()
        if api_version:
            settings = dataclasses.replace(settings, api_version=api_version)
        self.settings = settings
        self.account_id = _digits(account_id) or ""
        if not _ID_RE.match(self.account_id):
            raise ValueError(f"Meta account id must be digits (optionally act_-prefixed): {account_id!r}")
        self.tenant_id = tenant_id
        self.landing = landing
        self.report = ParseReport()  # drift and duplicates the parsers noticed (pipelines/ drains it)
        self.http = HttpClient(
            base_url or f"https://graph.facebook.com/{settings.api_version}",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            transport=transport,
            secrets=(access_token,),
            sleep=sleep,
            rng=rng,
            platform=PLATFORM,
            classify=lambda r: classify_meta(r, settings),
            pacer=meta_pacer(settings.pacing),
        )

    def __enter__(self) -> MetaAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"MetaAdsClient(account_id={self.account_id!r}, tenant_id={self.tenant_id!r})"

    # -- paging -------------------------------------------------------------------------------------------
    def _tenant(self, tenant_id: str | None = None) -> str:
        tenant = tenant_id or self.tenant_id
        if not tenant:
            raise ValueError("tenant_id is required (pass it to the client or the call)")
        return tenant

    def _paged(self, path: str, params: Mapping[str, Any], source: str, partition: str) -> Iterator[Page]:
        seq = 0

        def fetch(cursor: str | None) -> Page:
            nonlocal seq
            result = self.http.get_json(cursor) if cursor else self.http.get_json(path, params=params)
            meta = self.http.landing_meta(result)
            if not isinstance(result.data, dict):
                raise PermanentError(
                    "unexpected Meta page: not a JSON object",
                    platform=PLATFORM,
                    request_id=meta["request_id"],
                )
            page = Page(result.data, seq, meta)
            if self.landing is not None:
                page.landing_path = self.landing.save_page(
                    source, self._tenant(), partition, seq, result.content, meta
                )
            seq += 1
            return page

        def next_link(page: Page) -> str | None:
            paging = page.data.get("paging") or {}
            return paging.get("next") if isinstance(paging, dict) else None

        yield from iter_pages(fetch, next_link, platform=PLATFORM)
        if self.landing is not None:
            self.landing.finish_partition(source, self._tenant(), partition, seq)

    def iter_insights_pages(
        self,
        since: date | str,
        until: date | str,
        level: str = "ad",
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        *,
        partition: str | None = None,
    ) -> Iterator[Page]:
        """Daily insights (time_increment=1) for [since, until], one page at a time, following
        `paging.next` until it is absent. Ranges longer than `settings.async_min_days`, and ranges
        Meta refuses as too much data for a sync call, run as an async report job instead."""
        since_s, until_s = _iso(since), _iso(until)
        days = (date.fromisoformat(until_s) - date.fromisoformat(since_s)).days + 1
        if days > self.settings.async_min_days:
            yield from self.iter_async_insights_pages(
                since_s, until_s, level, fields, limit, partition=partition
            )
            return
        pages = self._sync_insights_pages(since_s, until_s, level, fields, limit, partition=partition)
        try:
            first = next(pages)
        except StopIteration:
            return
        except MetaTooMuchDataError:
            log.info(
                "Meta: %s..%s is too much data for a sync call; running an async report", since_s, until_s
            )
            yield from self.iter_async_insights_pages(
                since_s, until_s, level, fields, limit, partition=partition
            )
            return
        yield first
        yield from pages

    def _sync_insights_pages(
        self,
        since_s: str,
        until_s: str,
        level: str,
        fields: Sequence[str] | None,
        limit: int | None,
        *,
        partition: str | None,
    ) -> Iterator[Page]:
        params = {
            "level": level,
            "time_increment": 1,
            "time_range": json.dumps({"since": since_s, "until": until_s}, separators=(",", ":")),
            "fields": ",".join(fields or self.settings.insights_fields),
            "limit": limit or self.settings.page_size,
        }
        part = partition or (since_s if since_s == until_s else f"{since_s}_{until_s}")
        return self._paged(f"act_{self.account_id}/insights", params, "meta_ads_insights", part)

    def iter_async_insights_pages(
        self,
        since: date | str,
        until: date | str,
        level: str = "ad",
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        *,
        partition: str | None = None,
    ) -> Iterator[Page]:
        """Large reports: POST .../insights starts an async job (`report_run_id`); poll GET /{id} with
        a growing interval until `async_status` is "Job Completed", then page through
        /{id}/insights. A job that ends "Job Failed" or "Job Skipped" is started again (at most
        `settings.async_max_jobs` jobs); one that never completes is a TransientError."""
        since_s, until_s = _iso(since), _iso(until)
        run_id = self._completed_report(since_s, until_s, level, fields)
        part = partition or (since_s if since_s == until_s else f"{since_s}_{until_s}")
        yield from self._paged(
            f"{run_id}/insights", {"limit": limit or self.settings.page_size}, "meta_ads_insights", part
        )

    def _completed_report(self, since_s: str, until_s: str, level: str, fields: Sequence[str] | None) -> str:
        settings = self.settings
        outcomes: list[str] = []
        for _ in range(settings.async_max_jobs):
            started = self.http.post_json(
                f"act_{self.account_id}/insights",
                data={
                    "level": level,
                    "time_increment": 1,
                    "time_range": json.dumps({"since": since_s, "until": until_s}, separators=(",", ":")),
                    "fields": ",".join(fields or settings.insights_fields),
                },
                idempotent=True,  # starting a report twice is harmless
            )
            run_id = str((started.data or {}).get("report_run_id") or "")
            if not _ID_RE.match(run_id):
                raise PermanentError("Meta async report: no report_run_id in the answer", platform=PLATFORM)
            state = self._poll_report(run_id)
            if state == "Job Completed":
                return run_id
            outcomes.append(f"{run_id}: {state}")
            log.warning("Meta async report %s ended %r; starting it again", run_id, state)
        raise TransientError(
            f"Meta async report for {since_s}..{until_s} did not complete: {'; '.join(outcomes)}",
            platform=PLATFORM,
        )

    def _poll_report(self, run_id: str) -> str:
        settings = self.settings
        wait = settings.async_poll_interval
        for _ in range(settings.async_max_polls):
            status = self.http.get_json(run_id).data or {}
            state = str(status.get("async_status") or "")
            if state in {"Job Completed", "Job Failed", "Job Skipped"}:
                return state
            self.http.sleep(wait)
            wait = min(settings.async_poll_max_interval, wait * settings.async_poll_backoff)
        return "not complete after polling"

    def iter_entity_pages(
        self, kind: Literal["campaigns", "adsets", "ads"], fields: Sequence[str] | None = None
    ):
        default = {"campaigns": CAMPAIGN_FIELDS, "adsets": ADSET_FIELDS, "ads": AD_FIELDS}[kind]
        params = {"fields": ",".join(fields or default), "limit": self.settings.page_size}
        snapshot = datetime.now(UTC).date().isoformat()
        return self._paged(f"act_{self.account_id}/{kind}", params, f"meta_ads_{kind}", snapshot)

    def iter_activity_pages(
        self, since: date | str | None = None, until: date | str | None = None
    ) -> Iterator[Page]:
        """GET act_{id}/activities (the account's activity log, newest first), cursor-paged;
        `since`/`until` are days (until exclusive), both optional."""
        params: dict[str, Any] = {"fields": ",".join(ACTIVITY_FIELDS), "limit": self.settings.page_size}
        if since is not None:
            params["since"] = _iso(since)
        if until is not None:
            params["until"] = _iso(until)
        part = f"{params.get('since', 'start')}_{params.get('until', 'now')}"
        return self._paged(f"act_{self.account_id}/activities", params, "meta_ads_activities", part)

    def fetch_budget_changes(
        self, since: date | str | None = None, until: date | str | None = None
    ) -> pl.DataFrame:
        """The account's budget events (raw.meta_ads_budget_changes) from the activity log."""
        return parse_budget_changes(self.iter_activity_pages(since, until), self._tenant(), self.account_id)

    # -- parse / fetch ----------------------------------------------------------------------------------
    def parse_insights(
        self, pages: Iterable[Page | Mapping[str, Any]], tenant_id: str | None = None
    ) -> pl.DataFrame:
        return parse_insights(
            pages,
            self._tenant(tenant_id),
            account_id=self.account_id,
            settings=self.settings,
            report=self.report,
        )

    def fetch_insights(self, since: date | str, until: date | str, *, level: str = "ad") -> pl.DataFrame:
        return self.parse_insights(self.iter_insights_pages(since, until, level=level))

    def list_campaigns(self, *, snapshot_date: date | None = None) -> pl.DataFrame:
        return parse_campaigns(
            self.iter_entity_pages("campaigns"), self._tenant(), self.account_id,
            snapshot_date=snapshot_date, report=self.report,
        )  # fmt: skip

    def list_adsets(self) -> pl.DataFrame:
        return parse_adsets(
            self.iter_entity_pages("adsets"), self._tenant(), self.account_id, report=self.report
        )

    def list_ads(self) -> pl.DataFrame:
        return parse_ads(self.iter_entity_pages("ads"), self._tenant(), self.account_id, report=self.report)

    # -- writes -----------------------------------------------------------------------------------------
    def update_object(
        self,
        object_id: str,
        *,
        status: str | None = None,
        daily_budget_minor: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """POST /{object_id} with status and/or daily_budget (minor units: 2000 = 20.00). Returns the
        answer body (`{"success": true}`). Without an idempotency key an ambiguous failure is not retried
        (WriteNotRetriedError): read the object back with `get_object`."""
        _check_id(object_id)
        body: dict[str, Any] = {}
        if status is not None:
            if status not in WRITABLE_STATUSES:
                raise ValueError(f"status must be one of {sorted(WRITABLE_STATUSES)}: {status!r}")
            body["status"] = status
        if daily_budget_minor is not None:
            if isinstance(daily_budget_minor, bool) or int(daily_budget_minor) != daily_budget_minor:
                raise ValueError("daily_budget_minor must be an integer number of minor units")
            if daily_budget_minor <= 0:
                raise ValueError("daily_budget_minor must be > 0")
            body["daily_budget"] = str(int(daily_budget_minor))
        if not body:
            raise ValueError("nothing to update: pass status and/or daily_budget_minor")
        result = self.http.post_json(object_id, data=body, idempotency_key=idempotency_key)
        return result.data if isinstance(result.data, dict) else {"result": result.data}

    def get_object(
        self, object_id: str, fields: Sequence[str] = ("id", "name", "status", "daily_budget")
    ) -> dict[str, Any]:
        """GET /{object_id}?fields=... (read back after a write)."""
        _check_id(object_id)
        result = self.http.get_json(object_id, params={"fields": ",".join(fields)})
        if not isinstance(result.data, dict):
            raise PermanentError("unexpected Meta object body", platform=PLATFORM)
        return result.data


def _check_id(object_id: str) -> None:
    if not _ID_RE.match(str(object_id)):
        raise ValueError(f"Meta object id must be digits: {object_id!r}")


def _iso(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else date.fromisoformat(str(value)).isoformat()
