"""LinkedIn Marketing API connector: creative-day analytics, campaign groups / campaigns / creatives, and
campaign writes (status, daily budget).

Wire format (../shared/PLATFORMS.md, LinkedIn's versioned `/rest` API):
- headers `LinkedIn-Version: YYYYMM` and `X-Restli-Protocol-Version: 2.0.0`; query values in Rest.li 2.0
  syntax (`dateRange=(start:(year:2026,month:1,day:1),end:(...))`, `accounts=List(urn%3Ali%3A...)`).
- `adAnalytics` has NO paging: one answer of at most 15,000 elements, silently cut. The client sizes each
  date window so creatives x days stays under the cap and halves a window whose answer came back full.
- search finders page with `pageSize` + `pageToken` until `metadata.nextPageToken` is absent.
- cost is a decimal string (`"12.34"`, sometimes with more decimals: kept exact, rounded half-even to the
  cent), counts are JSON numbers, dates are `{year, month, day}`.
- writes: `POST /adAccounts/{a}/adCampaigns/{id}` with `X-RestLi-Method: PARTIAL_UPDATE` and
  `{"patch": {"$set": {...}}}`; LinkedIn answers 204.
- limits are per app / member per day, reset at midnight UTC, answered with 429 and no usage headers: the
  client keeps its own call counter (`DailyCallBudget`), slows down as it fills and stops before it is
  spent.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import polars as pl

from connectors.contracts import (
    decimal_column,
    frame_from_columns,
    frame_from_rows,
    int_column,
    to_decimal,
    to_float,
    to_int,
)
from connectors.drift import QUARANTINE_REASON, ParseReport, check_rows
from connectors.errors import AuthError, PermanentError, RateLimitedError, TransientError
from connectors.http import (
    DEFAULT_TIMEOUT,
    HttpClient,
    JsonResponse,
    Page,
    RetryDecision,
    RetryPolicy,
    iter_pages,
    page_body,
    request_id_from,
)
from connectors.landing import LandingZone

PLATFORM = "linkedin"
ACCOUNT_URN = "urn:li:sponsoredAccount:"
GROUP_URN = "urn:li:sponsoredCampaignGroup:"
CAMPAIGN_URN = "urn:li:sponsoredCampaign:"
CREATIVE_URN = "urn:li:sponsoredCreative:"
ANALYTICS_FIELDS: tuple[str, ...] = (
    "dateRange",
    "pivotValues",
    "costInLocalCurrency",
    "impressions",
    "clicks",
    "externalWebsiteConversions",
    "conversionValueInLocalCurrency",
)
ANALYTICS_REQUIRED = ("dateRange", "pivotValues", "costInLocalCurrency", "impressions", "clicks")
ANALYTICS_MONEY = ("costInLocalCurrency", "conversionValueInLocalCurrency")  # decimal text
ANALYTICS_COUNTS = (
    "impressions",
    "clicks",
    "landingPageClicks",
    "externalWebsiteConversions",
)  # JSON numbers
WRITABLE_STATUSES = frozenset({"ACTIVE", "PAUSED", "ARCHIVED"})
# Entity finders: the fields the parsers know (others are drift), those they cannot do without, numbers.
GROUP_FIELDS = frozenset({"id", "account", "name", "status", "runSchedule", "test"})
CAMPAIGN_FIELDS = frozenset({"id", "account", "campaignGroup", "name", "status", "type", "costType",
                             "objectiveType", "runSchedule", "dailyBudget"})  # fmt: skip
CREATIVE_FIELDS = frozenset({"id", "account", "campaign", "name", "intendedStatus", "isServing", "content",
                             "createdAt", "lastModifiedAt"})  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Settings and the client's own call counter
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkedInPacing:
    """LinkedIn sends no usage headers, so the client paces from its own count of calls this UTC day.

    `daily_calls`: calls the client allows itself per UTC day (set it below the app's quota: the quota is
    shared with everything else the app runs). Above `slow_from_pct` of it, each call is followed by a
    wait growing to `max_sleep` seconds; at 100% the client refuses to call (RateLimitedError) until the
    counter resets at midnight UTC.
    """

    daily_calls: int = 100_000
    slow_from_pct: float = 80.0
    max_sleep: float = 10.0

    def wait_for(self, used: int) -> float:
        pct = 100.0 * used / max(self.daily_calls, 1)
        if pct <= self.slow_from_pct:
            return 0.0
        span = max(100.0 - self.slow_from_pct, 1e-9)
        return self.max_sleep * min(1.0, (pct - self.slow_from_pct) / span)


class DailyCallBudget:
    """Calls made per UTC day (thread-safe). Share one between clients of the same app and token."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._day: date | None = None
        self._used = 0
        self._lock = threading.Lock()

    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock(), UTC).date()

    @property
    def used(self) -> int:
        with self._lock:
            return self._used if self._day == self._today() else 0

    def add(self, calls: int) -> int:
        with self._lock:
            today = self._today()
            if self._day != today:
                self._day, self._used = today, 0
            self._used += calls
            return self._used

    def seconds_to_reset(self) -> float:
        now = datetime.fromtimestamp(self.clock(), UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return (midnight - now).total_seconds()


@dataclass(frozen=True)
class LinkedInSettings:
    """Everything about LinkedIn that may change lives here, not in code."""

    api_version: str = "202409"  # LinkedIn-Version header (YYYYMM)
    page_size: int = 100  # search finders
    analytics_max_elements: int = 15_000  # adAnalytics answers at most this many elements, cut silently
    analytics_fill: float = 0.8  # plan windows to fill at most this share of the cap
    analytics_max_days: int = 90  # never ask for more days than this in one request
    analytics_fields: tuple[str, ...] = ANALYTICS_FIELDS
    pacing: LinkedInPacing = field(default_factory=LinkedInPacing)


# ---------------------------------------------------------------------------------------------------
# Rest.li 2.0 query values and error bodies
# ---------------------------------------------------------------------------------------------------
def restli(value: Any) -> str:
    """A value in Rest.li 2.0 query syntax: dict -> (k:v,...), list -> List(...), leaves percent-encoded
    (so `urn:li:sponsoredAccount:1` becomes `urn%3Ali%3AsponsoredAccount%3A1`)."""
    if isinstance(value, Mapping):
        return "(" + ",".join(f"{quote(str(k), safe='')}:{restli(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "List(" + ",".join(restli(v) for v in value) + ")"
    return quote(str(value), safe="")


def restli_query(params: Mapping[str, Any]) -> str:
    """A query string whose values are already Rest.li-encoded (httpx would encode `(`, `:` and `,`)."""
    return "&".join(f"{quote(k, safe='')}={v}" for k, v in params.items())


def date_range(since: date, until: date) -> dict[str, Any]:
    return {
        "start": {"year": since.year, "month": since.month, "day": since.day},
        "end": {"year": until.year, "month": until.month, "day": until.day},
    }


def classify_linkedin(response: httpx.Response) -> RetryDecision | None:
    """Rest.li error bodies `{"status", "serviceErrorCode", "code", "message"}`: 429 is a rejection
    (retryable, even for an unkeyed write), 401/403 auth, 5xx transient, other 4xx permanent."""
    status = response.status_code
    if status < 300:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None  # no Rest.li body (a gateway page): status-code rules apply
    code = body.get("code") or body.get("serviceErrorCode")
    message = str(body.get("message") or "")
    common = {"code": code, "message": message, "request_id": request_id_from(response)}
    if status == 429:
        return RetryDecision(
            True, RateLimitedError, "LinkedIn throttled (429)", None, rejected=True, **common
        )
    if status in (401, 403):
        return RetryDecision(False, AuthError, f"LinkedIn auth error (HTTP {status})", **common)
    if status >= 500:
        return RetryDecision(True, TransientError, f"LinkedIn server error (HTTP {status})", **common)
    return RetryDecision(False, PermanentError, f"LinkedIn error (HTTP {status})", **common)


# ---------------------------------------------------------------------------------------------------
# Parsers (pure): JSON answers -> raw.* frames
# ---------------------------------------------------------------------------------------------------
def _elements(pages: Iterable[Page | Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for page in pages:
        body = page_body(page)
        if not isinstance(body, Mapping) or not isinstance(body.get("elements"), list):
            raise PermanentError("unexpected LinkedIn answer: no 'elements' list", platform=PLATFORM)
        yield from body["elements"]


def urn_id(value: Any, prefix: str) -> str | None:
    """`urn:li:sponsoredCampaign:123` -> "123"; a bare id is kept; anything else -> None."""
    if value is None:
        return None
    text = str(value)
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return text if text.isdigit() else None


def ymd(value: Any) -> date | None:
    """LinkedIn's `{"year": 2026, "month": 1, "day": 31}` -> date; None when absent or invalid."""
    if not isinstance(value, Mapping):
        return None
    try:
        return date(int(value["year"]), int(value["month"]), int(value["day"]))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class CreativeParents:
    """creative id -> (campaign id, campaign group id): analytics rows name only the creative.

    `gap`: why the listings were incomplete (an element without a field the map needs), None when
    whole; analytics rows whose parents are then unknown are quarantined with that reason."""

    campaign_of: Mapping[str, str]
    group_of: Mapping[str, str]
    gap: str | None = None

    def campaign(self, creative_id: str | None) -> str | None:
        return self.campaign_of.get(creative_id or "")

    def group(self, creative_id: str | None) -> str | None:
        return self.group_of.get(self.campaign(creative_id) or "")


def parse_creative_stats(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    currency: str,
    parents: CreativeParents,
    *,
    report: ParseReport | None = None,
    fields: Iterable[str] = ANALYTICS_FIELDS,
) -> pl.DataFrame:
    """adAnalytics (pivot=CREATIVE, DAILY) -> raw.linkedin_ads_creative_stats.

    Drift (connectors/drift.py): fields beyond the asked `fields`, and numbers sent as formatted text,
    go to `report`; an element without a required field (or with a number that reads two ways) is
    marked for quarantine with the reason.

    Cost and conversion value: exact Decimal(18,2) from the strings; counts Int64; the day from
    `dateRange.start` ({year, month, day}); campaign and campaign group from `parents`. A row whose
    creative is unknown keeps null parents (the contract quarantines it, nothing is guessed)."""
    rows = list(_elements(pages))
    if not rows:
        return frame_from_rows("linkedin_ads_creative_stats", [])
    asked = set(fields)
    issues = check_rows(
        rows,
        source="linkedin_ads_creative_stats",
        report=report,
        expected=asked,
        required=[(f,) for f in ANALYTICS_REQUIRED if f in asked],
        numbers={(f,): "int" for f in ANALYTICS_COUNTS if f in asked},
        # money comes as decimal text, at times with more than two decimals (rounded later): any number
        text_numbers={(f,): "float" for f in ANALYTICS_MONEY if f in asked},
    )
    creative = [urn_id(_first(r.get("pivotValues")), CREATIVE_URN) for r in rows]
    if parents.gap is not None:
        for i, c in enumerate(creative):
            if c is not None and (parents.campaign(c) is None or parents.group(c) is None):
                issues.add(i, "campaign_id", f"linkedin_ads_creative_stats: parents of creative {c} "
                           f"unknown: {parents.gap}")  # fmt: skip
    day = [ymd((r.get("dateRange") or {}).get("start")) if isinstance(r.get("dateRange"), Mapping) else None
           for r in rows]  # fmt: skip
    n = len(rows)
    frame = frame_from_columns(
        "linkedin_ads_creative_stats",
        {
            "tenant_id": [tenant_id] * n,
            "account_id": [account_id] * n,
            "date": day,
            "campaign_group_id": [parents.group(c) for c in creative],
            "campaign_id": [parents.campaign(c) for c in creative],
            "creative_id": creative,
            "currency": [currency] * n,
            "cost_in_local_currency": decimal_column(
                "cost_in_local_currency", [_text(r.get("costInLocalCurrency")) for r in rows]
            ),
            "impressions": int_column("impressions", [r.get("impressions") for r in rows]),
            "clicks": int_column("clicks", [r.get("clicks") for r in rows]),
            "external_website_conversions": [to_float(r.get("externalWebsiteConversions", 0)) for r in rows],
            "conversion_value_in_local_currency": decimal_column(
                "conversion_value_in_local_currency",
                [_text(r.get("conversionValueInLocalCurrency", "0")) for r in rows],
            ),
        },
    )
    return issues.mark(frame)


def parse_campaign_groups(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    *,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.linkedin_ads_campaign_groups. Drift as for analytics: unknown fields and absent required
    ones (`id`, `status`: the element is marked for quarantine with the reason) go to `report`."""
    elements = list(_elements(pages))
    issues = check_rows(elements, source="linkedin_ads_campaign_groups", report=report,
                        expected=GROUP_FIELDS, required=[("id",), ("status",)])  # fmt: skip
    rows = [
        {
            "tenant_id": tenant_id,
            "account_id": urn_id(r.get("account"), ACCOUNT_URN) or account_id,
            "id": urn_id(r.get("id"), GROUP_URN),
            "name": _text(r.get("name")),
            "status": _text(r.get("status")),
        }
        for r in elements
    ]
    return issues.mark(frame_from_rows("linkedin_ads_campaign_groups", rows))


def parse_campaigns(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    *,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.linkedin_ads_campaigns; dailyBudget {amount, currencyCode} -> exact amount + currency.
    Drift: unknown fields, absent `id` / `campaignGroup` / `status` (quarantined with the reason), an
    amount sent as formatted text ("1.234,50": read exactly, or quarantined when it reads two ways)."""
    elements = list(_elements(pages))
    issues = check_rows(
        elements, source="linkedin_ads_campaigns", report=report, expected=CAMPAIGN_FIELDS,
        required=[("id",), ("campaignGroup",), ("status",)], text_numbers={("dailyBudget", "amount"): "money"},
    )  # fmt: skip
    rows = []
    for r in elements:
        budget = r.get("dailyBudget") if isinstance(r.get("dailyBudget"), Mapping) else {}
        rows.append(
            {
                "tenant_id": tenant_id,
                "account_id": urn_id(r.get("account"), ACCOUNT_URN) or account_id,
                "id": urn_id(r.get("id"), CAMPAIGN_URN),
                "campaign_group_id": urn_id(r.get("campaignGroup"), GROUP_URN),
                "name": _text(r.get("name")),
                "status": _text(r.get("status")),
                "daily_budget_amount": to_decimal(budget.get("amount")),
                "currency": _text(budget.get("currencyCode")),
            }
        )
    return issues.mark(frame_from_rows("linkedin_ads_campaigns", rows))


def parse_creatives(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    *,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.linkedin_ads_creatives; `createdAt` (epoch ms) -> naive UTC timestamp. Drift: unknown
    fields, absent `id` / `campaign` / `intendedStatus` (quarantined with the reason), `createdAt` sent
    as text."""
    elements = list(_elements(pages))
    issues = check_rows(
        elements, source="linkedin_ads_creatives", report=report, expected=CREATIVE_FIELDS,
        required=[("id",), ("campaign",), ("intendedStatus",)], numbers={("createdAt",): "int"},
    )  # fmt: skip
    rows = [
        {
            "tenant_id": tenant_id,
            "account_id": urn_id(r.get("account"), ACCOUNT_URN) or account_id,
            "id": urn_id(r.get("id"), CREATIVE_URN),
            "campaign_id": urn_id(r.get("campaign"), CAMPAIGN_URN),
            "name": _text(r.get("name")),
            "status": _text(r.get("intendedStatus")),
            "created_at": _epoch_ms(r.get("createdAt")),
        }
        for r in elements
    ]
    return issues.mark(frame_from_rows("linkedin_ads_creatives", rows))


def _unmarked(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows no parser marked for quarantine (a marked row may lack the very id it would map)."""
    if QUARANTINE_REASON not in frame.columns:
        return frame
    return frame.filter(pl.col(QUARANTINE_REASON).is_null())


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _epoch_ms(value: Any) -> datetime | None:
    ms = to_int(value)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------
class LinkedInAdsClient:
    """LinkedIn Marketing API client for one ad account. Use as a context manager.

    Reads land every answer before it is parsed when a `landing` zone is given. Writes carry the
    caller's idempotency key (`X-Idempotency-Key`); without one an ambiguous failure is not retried.
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
        settings: LinkedInSettings | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        call_budget: DailyCallBudget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not access_token:
            raise AuthError("LinkedIn access token is empty", platform=PLATFORM)
        settings = settings or LinkedInSettings()
        if api_version:
            settings = dataclasses.replace(settings, api_version=api_version)
        self.settings = settings
        self.account_id = urn_id(account_id, ACCOUNT_URN) or ""
        if not self.account_id:
            raise ValueError(
                f"LinkedIn ad account id must be digits or {ACCOUNT_URN}<digits>: {account_id!r}"
            )
        self.tenant_id = tenant_id
        self.landing = landing
        self.budget = call_budget or DailyCallBudget(clock)
        self.http = HttpClient(
            base_url or "https://api.linkedin.com/rest",
            headers={
                "Authorization": f"Bearer {access_token}",
                "LinkedIn-Version": settings.api_version,
                "X-Restli-Protocol-Version": "2.0.0",
                "Accept": "application/json",
            },
            timeout=timeout,
            retry=retry,
            transport=transport,
            secrets=(access_token,),
            sleep=sleep,
            rng=rng,
            clock=clock,
            platform=PLATFORM,
            classify=classify_linkedin,
        )
        self._currency: str | None = None
        self._parents: CreativeParents | None = None
        self.report = ParseReport()  # drift the parsers noticed (pipelines/ drains it)

    def __enter__(self) -> LinkedInAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"LinkedInAdsClient(account_id={self.account_id!r}, tenant_id={self.tenant_id!r})"

    # -- plumbing -----------------------------------------------------------------------------------------
    def _tenant(self) -> str:
        if not self.tenant_id:
            raise ValueError("tenant_id is required (pass it to the client)")
        return self.tenant_id

    def _call(self, method: str, url: str, **kwargs: Any) -> JsonResponse:
        """Every request goes through the day's call counter (attempts included: LinkedIn counts them)."""
        limit = self.settings.pacing.daily_calls
        if self.budget.used >= limit:
            raise RateLimitedError(
                f"own daily call budget of {limit} spent; LinkedIn's day resets in "
                f"{self.budget.seconds_to_reset() / 3600:.1f} h (midnight UTC)",
                platform=PLATFORM,
            )
        before = self.http.requests_sent
        try:
            return self.http.request_json(method, url, **kwargs)
        finally:
            used = self.budget.add(self.http.requests_sent - before)
            wait = self.settings.pacing.wait_for(used)
            if wait > 0:  # spread what is left of the day's calls instead of hitting the quota
                self.http.sleep(wait)

    def _land(self, source: str, partition: str, seq: int, result: JsonResponse) -> Any:
        if self.landing is None:
            return None
        return self.landing.save_page(
            source, self._tenant(), partition, seq, result.content, self.http.landing_meta(result)
        )

    def _object(self, result: JsonResponse) -> dict[str, Any]:
        if not isinstance(result.data, dict):
            raise PermanentError(
                "unexpected LinkedIn answer: not a JSON object",
                platform=PLATFORM,
                request_id=result.request_id,
            )
        return result.data

    # -- account ------------------------------------------------------------------------------------------
    def get_account(self) -> dict[str, Any]:
        return self._object(self._call("GET", f"adAccounts/{self.account_id}"))

    def currency(self) -> str:
        if self._currency is None:
            currency = self.get_account().get("currency")
            if not isinstance(currency, str) or len(currency) != 3:
                raise PermanentError("LinkedIn ad account without a currency", platform=PLATFORM)
            self._currency = currency
        return self._currency

    # -- entities -----------------------------------------------------------------------------------------
    def iter_entity_pages(
        self, collection: str, extra: Mapping[str, Any] | None = None, *, partition: str | None = None
    ) -> Iterator[Page]:
        """A search finder (`adCampaignGroups`/`adCampaigns`: q=search; `creatives`: q=criteria), following
        `metadata.nextPageToken` until it is absent."""
        finder = "criteria" if collection == "creatives" else "search"
        source = f"linkedin_ads_{collection}"
        part = partition or datetime.now(UTC).date().isoformat()
        seq = 0

        def fetch(token: str | None) -> Page:
            nonlocal seq
            params: dict[str, Any] = {"q": finder, **(extra or {}), "pageSize": self.settings.page_size}
            if token:
                params["pageToken"] = quote(token, safe="")
            result = self._call("GET", f"adAccounts/{self.account_id}/{collection}?{restli_query(params)}")
            page = Page(self._object(result), seq, self.http.landing_meta(result))
            page.landing_path = self._land(source, part, seq, result)
            seq += 1
            return page

        def next_token(page: Page) -> str | None:
            metadata = page.data.get("metadata")
            return metadata.get("nextPageToken") if isinstance(metadata, dict) else None

        yield from iter_pages(fetch, next_token, platform=PLATFORM)
        if self.landing is not None:
            self.landing.finish_partition(source, self._tenant(), part, seq)

    def list_campaign_groups(self) -> pl.DataFrame:
        return parse_campaign_groups(
            self.iter_entity_pages("adCampaignGroups"), self._tenant(), self.account_id, report=self.report
        )

    def list_campaigns(self) -> pl.DataFrame:
        return parse_campaigns(
            self.iter_entity_pages("adCampaigns"), self._tenant(), self.account_id, report=self.report
        )

    def list_creatives(self) -> pl.DataFrame:
        return parse_creatives(
            self.iter_entity_pages("creatives"), self._tenant(), self.account_id, report=self.report
        )

    def creative_parents(self, *, refresh: bool = False) -> CreativeParents:
        """Creative -> campaign -> campaign group, read once per client (analytics rows name creatives only).
        The listings' drift is the entity snapshot's to report (not added to `report` here); elements
        lacking a field the map needs leave their creatives unknown, with the reason in `gap`."""
        if self._parents is None or refresh:
            tenant = self._tenant()
            creatives = parse_creatives(self.iter_entity_pages("creatives"), tenant, self.account_id)
            campaigns = parse_campaigns(self.iter_entity_pages("adCampaigns"), tenant, self.account_id)
            gaps = [
                f"{reason} ({len(frame.filter(pl.col(QUARANTINE_REASON) == reason))} element(s))"
                for frame in (creatives, campaigns)
                if QUARANTINE_REASON in frame.columns
                for reason in frame[QUARANTINE_REASON].drop_nulls().unique(maintain_order=True)
            ]
            creatives, campaigns = _unmarked(creatives), _unmarked(campaigns)
            self._parents = CreativeParents(
                campaign_of=dict(zip(creatives["id"], creatives["campaign_id"], strict=True)),
                group_of=dict(zip(campaigns["id"], campaigns["campaign_group_id"], strict=True)),
                gap="; ".join(gaps) or None,
            )
        return self._parents

    # -- analytics ----------------------------------------------------------------------------------------
    def analytics_page(self, since: date, until: date, *, pivot: str = "CREATIVE", seq: int = 0,
                       partition: str | None = None) -> Page:  # fmt: skip
        """One adAnalytics call (q=analytics, DAILY) for this account over [since, until]."""
        params = {
            "q": "analytics",
            "pivot": pivot,
            "timeGranularity": "DAILY",
            "dateRange": restli(date_range(since, until)),
            "accounts": restli([f"{ACCOUNT_URN}{self.account_id}"]),
            "fields": ",".join(self.settings.analytics_fields),
        }
        result = self._call("GET", f"adAnalytics?{restli_query(params)}")
        page = Page(self._object(result), seq, self.http.landing_meta(result))
        part = partition or _partition(since, until)
        page.landing_path = self._land("linkedin_ads_creative_stats", part, seq, result)
        return page

    def window_days(self, n_creatives: int) -> int:
        """Days per analytics request so that creatives x days stays within the planned share of the cap."""
        room = int(self.settings.analytics_max_elements * self.settings.analytics_fill)
        return max(1, min(self.settings.analytics_max_days, room // max(n_creatives, 1)))

    def iter_analytics_pages(
        self, since: date | str, until: date | str, *, partition: str | None = None
    ) -> Iterator[Page]:
        """Creative-day analytics over [since, until] in windows sized from the number of creatives; a
        window whose answer reaches the cap may have been cut, so it is split in two and asked again."""
        first, last = _as_date(since), _as_date(until)
        part = partition or _partition(first, last)
        step = self.window_days(len(self.creative_parents().campaign_of))
        pending = [(first + timedelta(days=i), min(last, first + timedelta(days=i + step - 1)))
                   for i in range(0, (last - first).days + 1, step)]  # fmt: skip
        seq = 0
        while pending:
            start, end = pending.pop(0)
            page = self.analytics_page(start, end, seq=seq, partition=part)
            if len(page.data.get("elements") or []) >= self.settings.analytics_max_elements:
                if start == end:
                    raise PermanentError(
                        f"adAnalytics for {start} reached the {self.settings.analytics_max_elements}-element cap "
                        "on one day: split the request by campaign",
                        platform=PLATFORM,
                    )
                middle = start + timedelta(days=(end - start).days // 2)
                pending[:0] = [(start, middle), (middle + timedelta(days=1), end)]
                continue  # the cut answer is not parsed; the next answer is landed over it
            seq += 1
            yield page
        if self.landing is not None:
            self.landing.finish_partition("linkedin_ads_creative_stats", self._tenant(), part, seq)

    def parse_creative_stats(self, pages: Iterable[Page | Mapping[str, Any]]) -> pl.DataFrame:
        return parse_creative_stats(
            pages,
            self._tenant(),
            self.account_id,
            self.currency(),
            self.creative_parents(),
            report=self.report,
            fields=self.settings.analytics_fields,
        )

    def fetch_creative_stats(self, since: date | str, until: date | str) -> pl.DataFrame:
        return self.parse_creative_stats(list(self.iter_analytics_pages(since, until)))

    # -- writes -------------------------------------------------------------------------------------------
    def get_campaign(self, campaign_id: str | int) -> dict[str, Any]:
        """GET adAccounts/{a}/adCampaigns/{id} (read back after a write)."""
        return self._object(
            self._call("GET", f"adAccounts/{self.account_id}/adCampaigns/{_digits(campaign_id)}")
        )

    def update_campaign(
        self,
        campaign_id: str | int,
        *,
        status: str | None = None,
        daily_budget: Decimal | str | None = None,
        currency: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """PARTIAL_UPDATE of a LinkedIn campaign (the world's ad group): status and/or daily budget (an
        amount in the account currency, sent as LinkedIn's `{"amount": "50.00", "currencyCode"}`).
        LinkedIn answers 204; read the campaign back with `get_campaign`."""
        changes: dict[str, Any] = {}
        if status is not None:
            if status not in WRITABLE_STATUSES:
                raise ValueError(f"status must be one of {sorted(WRITABLE_STATUSES)}: {status!r}")
            changes["status"] = status
        if daily_budget is not None:
            amount = to_decimal(daily_budget)
            if amount is None or amount <= 0 or amount != Decimal(str(daily_budget)):
                raise ValueError(
                    f"daily_budget must be a positive amount with at most 2 decimals: {daily_budget!r}"
                )
            changes["dailyBudget"] = {"amount": f"{amount:.2f}", "currencyCode": currency or self.currency()}
        if not changes:
            raise ValueError("nothing to update: pass status and/or daily_budget")
        self._call(
            "POST",
            f"adAccounts/{self.account_id}/adCampaigns/{_digits(campaign_id)}",
            json={"patch": {"$set": changes}},
            headers={"X-RestLi-Method": "PARTIAL_UPDATE"},
            idempotency_key=idempotency_key,
        )

    def get_creative(self, creative_id: str | int) -> dict[str, Any]:
        urn = quote(f"{CREATIVE_URN}{_digits(creative_id)}", safe="")
        return self._object(self._call("GET", f"adAccounts/{self.account_id}/creatives/{urn}"))

    def update_creative_status(
        self, creative_id: str | int, status: str, *, idempotency_key: str | None = None
    ) -> None:
        """PARTIAL_UPDATE of a creative's `intendedStatus` (ACTIVE | PAUSED)."""
        if status not in WRITABLE_STATUSES:
            raise ValueError(f"status must be one of {sorted(WRITABLE_STATUSES)}: {status!r}")
        urn = quote(f"{CREATIVE_URN}{_digits(creative_id)}", safe="")
        self._call(
            "POST",
            f"adAccounts/{self.account_id}/creatives/{urn}",
            json={"patch": {"$set": {"intendedStatus": status}}},
            headers={"X-RestLi-Method": "PARTIAL_UPDATE"},
            idempotency_key=idempotency_key,
        )


def _digits(value: str | int) -> str:
    text = str(value)
    for prefix in (CAMPAIGN_URN, CREATIVE_URN):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if not text.isdigit():
        raise ValueError(f"LinkedIn id must be digits: {value!r}")
    return text


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _partition(since: date, until: date) -> str:
    return since.isoformat() if since == until else f"{since.isoformat()}_{until.isoformat()}"


__all__ = [
    "DailyCallBudget",
    "LinkedInAdsClient",
    "LinkedInPacing",
    "LinkedInSettings",
    "classify_linkedin",
    "parse_campaign_groups",
    "parse_campaigns",
    "parse_creative_stats",
    "parse_creatives",
    "restli",
]
