"""TikTok Business API connector: ad-day reports, campaigns / ad groups / ads, ad group writes.

Wire format (../shared/PLATFORMS.md, API v1.3):
- header `Access-Token`; every answer is `{"code", "message", "request_id", "data"}` and errors usually
  arrive with HTTP 200: `classify_tiktok` reads `code` on every answer, so a 200 is never taken as success
  by itself. 40100 (too many requests; matched on the message too) is a rejection and retried even for an
  unkeyed write; 5xxxx is a server error (retried for reads and keyed writes only); 40001/40104/40105 are
  auth errors; other codes are permanent.
- reports (`report/integrated/get/`) page with `page`/`page_size` and `data.page_info.total_page`; a
  stat_time_day report spans at most 30 days, so long ranges are split. Every metric is a string
  (`"spend": "12.30"`), the day is `"2026-01-31 00:00:00"`.
- entity gets (`campaign/get/`, `adgroup/get/`, `ad/get/`) page the same way; budgets are JSON numbers.
- writes: `adgroup/status/update/` (ENABLE | DISABLE), `adgroup/budget/update/`, `ad/status/update/`.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import polars as pl

from connectors.contracts import (
    decimal_column,
    frame_from_columns,
    frame_from_rows,
    int_column,
    to_dates,
    to_decimal,
    to_float,
)
from connectors.drift import ParseReport, check_rows
from connectors.errors import AuthError, PermanentError, RateLimitedError, TransientError
from connectors.http import (
    DEFAULT_TIMEOUT,
    HttpClient,
    JsonResponse,
    Page,
    RetryDecision,
    RetryPolicy,
    page_body,
    response_json,
)
from connectors.landing import LandingZone

PLATFORM = "tiktok"
REPORT_METRICS: tuple[str, ...] = (
    "campaign_id",
    "campaign_name",
    "adgroup_id",
    "adgroup_name",
    "ad_name",
    "currency",
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "total_purchase_value",
)
# How the report's numeric metrics (all sent as plain text by TikTok) are read.
REPORT_NUMBERS: dict[str, Any] = {
    "spend": "money",
    "total_purchase_value": "money",
    "impressions": "int",
    "clicks": "int",
    "conversion": "int",
}
OPERATION_STATUSES = frozenset({"ENABLE", "DISABLE"})
_ID = re.compile(r"^\d+$")
# Entity listings: the fields the parsers know (others are drift) and those they cannot do without.
CAMPAIGN_FIELDS = frozenset({"advertiser_id", "campaign_id", "campaign_name", "operation_status", "create_time",
                             "objective_type", "budget_mode", "budget"})  # fmt: skip
ADGROUP_FIELDS = frozenset({"advertiser_id", "campaign_id", "adgroup_id", "adgroup_name", "operation_status",
                            "create_time", "budget_mode", "budget"})  # fmt: skip
AD_FIELDS = frozenset({"advertiser_id", "campaign_id", "adgroup_id", "ad_id", "ad_name", "operation_status",
                       "create_time"})  # fmt: skip


@dataclass(frozen=True)
class TikTokSettings:
    """Everything about TikTok that may change lives here, not in code."""

    api_version: str = "v1.3"
    page_size: int = 1_000  # the API's maximum
    report_max_days: int = 30  # a stat_time_day report spans at most this many days
    report_metrics: tuple[str, ...] = REPORT_METRICS
    throttle_codes: frozenset[int] = frozenset({40100})
    auth_codes: frozenset[int] = frozenset({40001, 40102, 40104, 40105})
    throttle_words: tuple[str, ...] = ("too many requests", "too frequently", "rate limit", "qps")


def classify_tiktok(response: httpx.Response, settings: TikTokSettings | None = None) -> RetryDecision | None:
    """Read `code` on every answer, HTTP 200 included; None only for `code == 0` (or a non-JSON body,
    which the status-code rules and the JSON parse judge)."""
    settings = settings or TikTokSettings()
    try:
        body = response_json(response)  # parsed once: the client's own parse reuses it
    except ValueError:
        return None
    if not isinstance(body, dict) or "code" not in body:
        if response.status_code < 300:
            return RetryDecision(False, PermanentError, "TikTok answer without a `code`")
        return None
    code = body.get("code")
    if code == 0 and response.status_code < 300:
        return None
    message = str(body.get("message") or "")
    common = {"code": code, "message": message, "request_id": body.get("request_id")}
    lowered = message.lower()
    if (
        code in settings.throttle_codes
        or response.status_code == 429
        or any(w in lowered for w in settings.throttle_words)
    ):
        return RetryDecision(
            True, RateLimitedError, f"TikTok throttled (code {code})", None, rejected=True, **common
        )
    if code in settings.auth_codes or response.status_code in (401, 403):
        return RetryDecision(False, AuthError, f"TikTok auth error (code {code})", **common)
    if (isinstance(code, int) and code >= 50000) or response.status_code >= 500:
        return RetryDecision(True, TransientError, f"TikTok server error (code {code})", **common)
    return RetryDecision(False, PermanentError, f"TikTok error (code {code})", **common)


# ---------------------------------------------------------------------------------------------------
# Parsers (pure): answers -> raw.* frames
# ---------------------------------------------------------------------------------------------------
def _items(pages: Iterable[Page | Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for page in pages:
        body = page_body(page)
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping) or not isinstance(data.get("list"), list):
            raise PermanentError("unexpected TikTok answer: no data.list", platform=PLATFORM)
        yield from data["list"]


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_ad_stats(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    advertiser_id: str,
    *,
    report: ParseReport | None = None,
    metrics_asked: Iterable[str] = REPORT_METRICS,
) -> pl.DataFrame:
    """integrated report (AUCTION_AD, ["ad_id", "stat_time_day"]) -> raw.tiktok_ads_ad_stats.

    spend / total_purchase_value exact Decimal(18,2) from the strings; impressions / clicks Int64;
    conversion Float64; stat_time_day "2026-01-31 00:00:00" -> date.

    Drift (connectors/drift.py): metrics nobody asked for, and metrics sent as formatted text ("1,234.50"
    where TikTok sends "1234.50"), go to `report`; a row without a required field (or with a number that
    reads two ways) is marked for quarantine with the reason."""
    rows = list(_items(pages))
    if not rows:
        return frame_from_rows("tiktok_ads_ad_stats", [])
    asked = set(metrics_asked)
    issues = check_rows(
        rows,
        source="tiktok_ads_ad_stats",
        report=report,
        expected={"dimensions", "metrics", "dimensions.ad_id", "dimensions.stat_time_day"}
        | {f"metrics.{m}" for m in asked},
        nested=("dimensions", "metrics"),
        required=[("dimensions", "stat_time_day"), ("dimensions", "ad_id")]
        + [("metrics", m) for m in ("spend", "impressions", "clicks") if m in asked],
        text_numbers={("metrics", m): kind for m, kind in REPORT_NUMBERS.items() if m in asked},
    )
    dims = [r.get("dimensions") if isinstance(r.get("dimensions"), Mapping) else {} for r in rows]
    metrics = [r.get("metrics") if isinstance(r.get("metrics"), Mapping) else {} for r in rows]

    def metric(name: str) -> list[Any]:
        return [m.get(name) for m in metrics]

    def text(name: str) -> list[str | None]:
        return [_text(m.get(name)) for m in metrics]

    n = len(rows)
    frame = frame_from_columns(
        "tiktok_ads_ad_stats",
        {
            "tenant_id": [tenant_id] * n,
            "advertiser_id": [advertiser_id] * n,
            "stat_time_day": to_dates(d.get("stat_time_day") for d in dims),
            "campaign_id": text("campaign_id"),
            "campaign_name": text("campaign_name"),
            "adgroup_id": text("adgroup_id"),
            "adgroup_name": text("adgroup_name"),
            "ad_id": [_text(d.get("ad_id")) for d in dims],
            "ad_name": text("ad_name"),
            "currency": text("currency"),
            "spend": decimal_column("spend", text("spend")),
            "impressions": int_column("impressions", text("impressions")),
            "clicks": int_column("clicks", text("clicks")),
            "conversion": [to_float(v) for v in metric("conversion")],
            "total_purchase_value": decimal_column(
                "total_purchase_value", [v if v is not None else "0" for v in text("total_purchase_value")]
            ),
        },
    )
    return issues.mark(frame)


def parse_campaigns(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    advertiser_id: str,
    *,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.tiktok_ads_campaigns. Drift (connectors/drift.py): unknown fields go to `report`; a row
    without `campaign_id` or `operation_status` is marked for quarantine with the reason."""
    items = list(_items(pages))
    issues = check_rows(items, source="tiktok_ads_campaigns", report=report, expected=CAMPAIGN_FIELDS,
                        required=[("campaign_id",), ("operation_status",)])  # fmt: skip
    rows = [
        {
            "tenant_id": tenant_id,
            "advertiser_id": _text(r.get("advertiser_id")) or advertiser_id,
            "campaign_id": _text(r.get("campaign_id")),
            "campaign_name": _text(r.get("campaign_name")),
            "operation_status": _text(r.get("operation_status")),
            "objective_type": _text(r.get("objective_type")),
        }
        for r in items
    ]
    return issues.mark(frame_from_rows("tiktok_ads_campaigns", rows))


def parse_adgroups(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    advertiser_id: str,
    *,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.tiktok_ads_adgroups; `budget` (a JSON number) exact to the cent via its shortest repr.
    Drift: unknown fields, absent `adgroup_id` / `campaign_id` / `operation_status` (quarantined with
    the reason), a budget sent as formatted text (read exactly, or quarantined when it reads two ways)."""
    items = list(_items(pages))
    issues = check_rows(
        items, source="tiktok_ads_adgroups", report=report, expected=ADGROUP_FIELDS,
        required=[("adgroup_id",), ("campaign_id",), ("operation_status",)], numbers={("budget",): "money"},
    )  # fmt: skip
    rows = [
        {
            "tenant_id": tenant_id,
            "advertiser_id": _text(r.get("advertiser_id")) or advertiser_id,
            "adgroup_id": _text(r.get("adgroup_id")),
            "campaign_id": _text(r.get("campaign_id")),
            "adgroup_name": _text(r.get("adgroup_name")),
            "operation_status": _text(r.get("operation_status")),
            "budget": _budget(r.get("budget")),
            "budget_mode": _text(r.get("budget_mode")),
        }
        for r in items
    ]
    return issues.mark(frame_from_rows("tiktok_ads_adgroups", rows))


def parse_ads(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    advertiser_id: str,
    *,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.tiktok_ads_ads; create_time ("YYYY-MM-DD HH:MM:SS", UTC) -> timestamp. Drift: unknown
    fields, absent `ad_id` / `adgroup_id` / `operation_status` (quarantined with the reason)."""
    items = list(_items(pages))
    issues = check_rows(items, source="tiktok_ads_ads", report=report, expected=AD_FIELDS,
                        required=[("ad_id",), ("adgroup_id",), ("operation_status",)])  # fmt: skip
    rows = [
        {
            "tenant_id": tenant_id,
            "advertiser_id": _text(r.get("advertiser_id")) or advertiser_id,
            "ad_id": _text(r.get("ad_id")),
            "adgroup_id": _text(r.get("adgroup_id")),
            "campaign_id": _text(r.get("campaign_id")),
            "ad_name": _text(r.get("ad_name")),
            "operation_status": _text(r.get("operation_status")),
            "create_time": r.get("create_time"),
        }
        for r in items
    ]
    return issues.mark(frame_from_rows("tiktok_ads_ads", rows, timestamp_strings=("create_time",)))


def _budget(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return to_decimal(repr(value) if isinstance(value, float) else value)


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------
class TikTokAdsClient:
    """TikTok Business API client for one advertiser. Use as a context manager."""

    def __init__(
        self,
        access_token: str,
        advertiser_id: str,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        landing: LandingZone | None = None,
        tenant_id: str | None = None,
        settings: TikTokSettings | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not access_token:
            raise AuthError("TikTok access token is empty", platform=PLATFORM)
        if not _ID.match(str(advertiser_id)):
            raise ValueError(f"TikTok advertiser id must be digits: {advertiser_id!r}")
        self.settings = settings = settings or TikTokSettings()
        self.advertiser_id = str(advertiser_id)
        self.tenant_id = tenant_id
        self.landing = landing
        self.report = ParseReport()  # drift the parsers noticed (pipelines/ drains it)
        self.http = HttpClient(
            base_url or f"https://business-api.tiktok.com/open_api/{settings.api_version}",
            headers={"Access-Token": access_token, "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            transport=transport,
            secrets=(access_token,),
            sleep=sleep,
            rng=rng,
            platform=PLATFORM,
            classify=lambda r: classify_tiktok(r, settings),
        )

    def __enter__(self) -> TikTokAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"TikTokAdsClient(advertiser_id={self.advertiser_id!r}, tenant_id={self.tenant_id!r})"

    def _tenant(self) -> str:
        if not self.tenant_id:
            raise ValueError("tenant_id is required (pass it to the client)")
        return self.tenant_id

    def _data(self, result: JsonResponse) -> dict[str, Any]:
        body = result.data
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise PermanentError("unexpected TikTok answer: no data object", platform=PLATFORM)
        return body["data"]

    # -- paging -------------------------------------------------------------------------------------------
    def _paged(
        self, path: str, params: Mapping[str, Any], source: str, partition: str, seq0: int = 0
    ) -> Iterator[Page]:
        """Pages 1..total_page of a `page`/`page_size` endpoint, each landed before it is yielded."""
        page_no, seq = 1, seq0
        while True:
            result = self.http.get_json(
                path, params={**params, "page": page_no, "page_size": self.settings.page_size}
            )
            data = self._data(result)
            page = Page(result.data, seq, self.http.landing_meta(result))
            if self.landing is not None:
                page.landing_path = self.landing.save_page(
                    source, self._tenant(), partition, seq, result.content, page.meta
                )
            yield page
            seq += 1
            info = data.get("page_info") if isinstance(data.get("page_info"), dict) else {}
            total = info.get("total_page")
            if not isinstance(total, int):
                raise PermanentError("TikTok answer without page_info.total_page", platform=PLATFORM)
            if page_no >= total:
                return
            page_no += 1

    def iter_report_pages(
        self, since: date | str, until: date | str, *, partition: str | None = None
    ) -> Iterator[Page]:
        """Ad-day report over [since, until], split into spans of at most `report_max_days`."""
        first, last = _as_date(since), _as_date(until)
        part = partition or _partition(first, last)
        seq = 0
        start = first
        while start <= last:
            end = min(last, start + timedelta(days=self.settings.report_max_days - 1))
            params = {
                "advertiser_id": self.advertiser_id,
                "report_type": "BASIC",
                "data_level": "AUCTION_AD",
                "dimensions": json.dumps(["ad_id", "stat_time_day"]),
                "metrics": json.dumps(list(self.settings.report_metrics)),
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
            }
            for page in self._paged("report/integrated/get/", params, "tiktok_ads_ad_stats", part, seq):
                seq = page.seq + 1
                yield page
            start = end + timedelta(days=1)
        if self.landing is not None:
            self.landing.finish_partition("tiktok_ads_ad_stats", self._tenant(), part, seq)

    def parse_ad_stats(self, pages: Iterable[Page | Mapping[str, Any]]) -> pl.DataFrame:
        return parse_ad_stats(
            pages,
            self._tenant(),
            self.advertiser_id,
            report=self.report,
            metrics_asked=self.settings.report_metrics,
        )

    def fetch_ad_stats(self, since: date | str, until: date | str) -> pl.DataFrame:
        return self.parse_ad_stats(list(self.iter_report_pages(since, until)))

    def iter_entity_pages(
        self, kind: str, filtering: Mapping[str, Any] | None = None, *, partition: str | None = None
    ) -> Iterator[Page]:
        """`campaign/get/`, `adgroup/get/` or `ad/get/` (kind = campaign | adgroup | ad), all pages."""
        if kind not in ("campaign", "adgroup", "ad"):
            raise ValueError(f"kind must be campaign, adgroup or ad: {kind!r}")
        params: dict[str, Any] = {"advertiser_id": self.advertiser_id}
        if filtering:
            params["filtering"] = json.dumps(dict(filtering))
        part = partition or date.today().isoformat()
        source = f"tiktok_ads_{kind}s"
        pages = list(self._paged(f"{kind}/get/", params, source, part))
        if self.landing is not None:
            self.landing.finish_partition(source, self._tenant(), part, len(pages))
        return iter(pages)

    def list_campaigns(self) -> pl.DataFrame:
        return parse_campaigns(
            self.iter_entity_pages("campaign"), self._tenant(), self.advertiser_id, report=self.report
        )

    def list_adgroups(self) -> pl.DataFrame:
        return parse_adgroups(
            self.iter_entity_pages("adgroup"), self._tenant(), self.advertiser_id, report=self.report
        )

    def list_ads(self) -> pl.DataFrame:
        return parse_ads(self.iter_entity_pages("ad"), self._tenant(), self.advertiser_id, report=self.report)

    # -- reads for activation --------------------------------------------------------------------------
    def get_adgroups(self, adgroup_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The ad groups' current state (read back after a write): `adgroup/get/` filtered by id."""
        ids = [_check_id(i) for i in adgroup_ids]
        result = self.http.get_json(
            "adgroup/get/",
            params={
                "advertiser_id": self.advertiser_id,
                "filtering": json.dumps({"adgroup_ids": ids}),
                "page_size": self.settings.page_size,
            },
        )
        return list(self._data(result).get("list") or [])

    def get_ads(self, ad_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = [_check_id(i) for i in ad_ids]
        result = self.http.get_json(
            "ad/get/",
            params={
                "advertiser_id": self.advertiser_id,
                "filtering": json.dumps({"ad_ids": ids}),
                "page_size": self.settings.page_size,
            },
        )
        return list(self._data(result).get("list") or [])

    # -- writes -------------------------------------------------------------------------------------------
    def update_adgroup_status(
        self, adgroup_ids: Sequence[str], operation_status: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST adgroup/status/update/ with ENABLE | DISABLE. Returns `data`."""
        return self._status_update("adgroup", "adgroup_ids", adgroup_ids, operation_status, idempotency_key)

    def update_ad_status(
        self, ad_ids: Sequence[str], operation_status: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST ad/status/update/ with ENABLE | DISABLE. Returns `data`."""
        return self._status_update("ad", "ad_ids", ad_ids, operation_status, idempotency_key)

    def _status_update(
        self, kind: str, key: str, ids: Sequence[str], status: str, idempotency_key: str | None
    ) -> dict[str, Any]:
        if status not in OPERATION_STATUSES:
            raise ValueError(f"operation_status must be one of {sorted(OPERATION_STATUSES)}: {status!r}")
        body = {
            "advertiser_id": self.advertiser_id,
            key: [_check_id(i) for i in ids],
            "operation_status": status,
        }
        if not body[key]:
            raise ValueError(f"{key} must not be empty")
        return self._data(
            self.http.post_json(f"{kind}/status/update/", json=body, idempotency_key=idempotency_key)
        )

    def update_adgroup_budget(
        self, adgroup_id: str, budget: Decimal | str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST adgroup/budget/update/ with the new daily budget (account currency, two decimals)."""
        amount = to_decimal(budget)
        if amount is None or amount <= 0 or amount != Decimal(str(budget)):
            raise ValueError(f"budget must be a positive amount with at most 2 decimals: {budget!r}")
        body = {
            "advertiser_id": self.advertiser_id,
            "budget": [{"adgroup_id": _check_id(adgroup_id), "budget": float(amount)}],
        }
        return self._data(
            self.http.post_json("adgroup/budget/update/", json=body, idempotency_key=idempotency_key)
        )


def _check_id(value: Any) -> str:
    text = str(value)
    if not _ID.match(text):
        raise ValueError(f"TikTok id must be digits: {value!r}")
    return text


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _partition(since: date, until: date) -> str:
    return since.isoformat() if since == until else f"{since.isoformat()}_{until.isoformat()}"
