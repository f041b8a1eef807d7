"""Social-listening connector: the brand's organic posts, its mentions and influencer profiles.

Wire format: the sandbox's listening API, documented in `connectors/sandbox/api/social.py` (Graph-API
style): `GET /v1/accounts`, `/v1/accounts/{id}/posts`, `/v1/mentions?q=<keyword>`, `/v1/influencers`,
each `{"data": [...], "paging": {"cursors": {"after"}, "next"}}`; follow `paging.next` until it is absent.
Errors are Graph bodies `{"error": {"code", "message", "is_transient"}}`: codes 4, 17, 32, 613 (and HTTP
429) are throttles, `is_transient` / 5xx are retried, 102/104/190 are credential errors.

Parsers return `raw.social_posts`, `raw.social_mentions` and `raw.social_influencers` (INTERFACES §7.3),
one row per id (a record read twice, e.g. when pages overlap, keeps its last version).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import polars as pl

from connectors.contracts import frame_from_columns, int_column
from connectors.drift import ParseReport, RowIssues, check_rows, latest_per_key
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

PLATFORM = "social"
DEFAULT_BASE_URL = "https://api.social.sandbox/v1"
THROTTLE_CODES = frozenset({4, 17, 32, 613}) | frozenset(range(80000, 80015))
AUTH_CODES = frozenset({102, 104, 190})
POST_METRICS = ("reach", "impressions", "likes", "comments", "shares", "saves", "link_clicks")
# What each listing's rows carry (others are reported as drift; `metrics.*` / `author.*` one level down)
# and the fields a row cannot do without (absent: the row is quarantined with the reason).
POST_FIELDS = frozenset(
    {"id", "platform", "account_id", "created_time", "type", "message", "permalink_url", "metrics"}
    | {f"metrics.{m}" for m in POST_METRICS}
)
MENTION_FIELDS = frozenset(
    {"id", "platform", "created_time", "author", "text", "permalink_url", "like_count", "repost_count",
     "lang", "author.username", "author.followers_count"}
)  # fmt: skip
INFLUENCER_FIELDS = frozenset(
    {"id", "platform", "username", "name", "followers_count", "engagement_rate", "avg_reach", "category",
     "country"}
)  # fmt: skip


@dataclass(frozen=True)
class SocialSettings:
    page_size: int = 100
    #: When `x-app-usage` reports this share of the quota used (percent), pause before the next call.
    usage_threshold: int = 90
    usage_pause: float = 5.0


def classify_social(response: httpx.Response) -> RetryDecision | None:
    status = response.status_code
    if status < 300:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None  # no Graph body (a gateway page): the status-code rules decide
    code = error.get("code")
    common = {
        "code": code,
        "message": error.get("message"),
        "request_id": error.get("fbtrace_id") or request_id_from(response),
    }
    delay = parse_retry_after(response.headers)
    if status == 429 or code in THROTTLE_CODES:
        return RetryDecision(
            True, RateLimitedError, f"social API throttled (code {code})", delay, True, **common
        )
    if code in AUTH_CODES or status == 401:
        return RetryDecision(False, AuthError, f"social API credentials refused (code {code})", **common)
    if error.get("is_transient") or status >= 500:
        return RetryDecision(True, TransientError, f"social API HTTP {status} (code {code})", delay, **common)
    return RetryDecision(False, PermanentError, f"social API HTTP {status} (code {code})", **common)


def usage_pause(response: httpx.Response, settings: SocialSettings) -> float:
    """Seconds to wait when `x-app-usage` says the app's quota is nearly used up."""
    raw = response.headers.get("x-app-usage")
    if not raw:
        return 0.0
    try:
        usage = json.loads(raw)
        used = max(int(usage.get(k, 0)) for k in ("call_count", "total_cputime", "total_time"))
    except (ValueError, TypeError, AttributeError):
        return 0.0
    return settings.usage_pause if used >= settings.usage_threshold else 0.0


# ---------------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------------
def _data(pages: Iterable[Page | Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for page in pages:
        body = page_body(page)
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise PermanentError("unexpected social API page shape: no 'data' list", platform=PLATFORM)
        out.extend(body["data"])
    return out


def _latest(
    frame: pl.DataFrame, key: list[str], issues: RowIssues | None = None, report: ParseReport | None = None
) -> pl.DataFrame:
    """One row per key (the last version read), after marking the rows with issues; exact repeats (a
    page repeating rows of the previous one) are counted in `report.duplicates`."""
    if issues is not None:
        frame = issues.mark(frame)
    if report is not None:
        report.duplicates += frame.height - frame.unique().height
    return latest_per_key(frame, key)


def parse_posts(
    pages: Iterable[Page | Mapping[str, Any]], tenant_id: str, *, report: ParseReport | None = None
) -> pl.DataFrame:
    """-> raw.social_posts (lifetime metrics as of the read). Drift as in connectors/drift.py."""
    records = _data(pages)
    issues = check_rows(
        records, source="social_posts", report=report, expected=POST_FIELDS, nested=("metrics",),
        required=(("id",), ("created_time",), ("metrics", "reach"), ("metrics", "impressions")),
        numbers={("metrics", m): "int" for m in POST_METRICS},
    )  # fmt: skip
    metrics = [r.get("metrics") or {} for r in records]
    columns: dict[str, Any] = {
        "tenant_id": [tenant_id] * len(records),
        "platform": [r.get("platform") for r in records],
        "account_id": [_str(r.get("account_id")) for r in records],
        "post_id": [_str(r.get("id")) for r in records],
        "created_at": [r.get("created_time") for r in records],
        "post_type": [r.get("type") for r in records],
        "message": [r.get("message") for r in records],
        "permalink": [r.get("permalink_url") for r in records],
    }
    for name in POST_METRICS:
        columns[name] = int_column(name, [m.get(name) for m in metrics])
    frame = frame_from_columns("social_posts", columns, timestamp_strings=("created_at",))
    return _latest(frame, ["tenant_id", "platform", "post_id"], issues, report)


def parse_mentions(
    pages: Iterable[Page | Mapping[str, Any]], tenant_id: str, *, report: ParseReport | None = None
) -> pl.DataFrame:
    """-> raw.social_mentions. Drift as in connectors/drift.py."""
    records = _data(pages)
    issues = check_rows(
        records, source="social_mentions", report=report, expected=MENTION_FIELDS, nested=("author",),
        required=(("id",), ("created_time",), ("like_count",)),
        numbers={("like_count",): "int", ("repost_count",): "int", ("author", "followers_count"): "int"},
    )  # fmt: skip
    authors = [r.get("author") or {} for r in records]
    columns: dict[str, Any] = {
        "tenant_id": [tenant_id] * len(records),
        "platform": [r.get("platform") for r in records],
        "mention_id": [_str(r.get("id")) for r in records],
        "created_at": [r.get("created_time") for r in records],
        "author_handle": [a.get("username") for a in authors],
        "author_followers": int_column("author_followers", [a.get("followers_count") for a in authors]),
        "text": [r.get("text") for r in records],
        "url": [r.get("permalink_url") for r in records],
        "likes": int_column("likes", [r.get("like_count") for r in records]),
        "reposts": int_column("reposts", [r.get("repost_count") for r in records]),
        "language": [r.get("lang") for r in records],
    }
    frame = frame_from_columns("social_mentions", columns, timestamp_strings=("created_at",))
    return _latest(frame, ["tenant_id", "platform", "mention_id"], issues, report)


def parse_influencers(
    pages: Iterable[Page | Mapping[str, Any]], tenant_id: str, *, report: ParseReport | None = None
) -> pl.DataFrame:
    """-> raw.social_influencers (engagement_rate as sent: a share of followers). Drift as in
    connectors/drift.py."""
    records = _data(pages)
    issues = check_rows(
        records, source="social_influencers", report=report, expected=INFLUENCER_FIELDS,
        required=(("id",), ("followers_count",)),
        numbers={("followers_count",): "int", ("engagement_rate",): "float", ("avg_reach",): "int"},
    )  # fmt: skip
    columns: dict[str, Any] = {
        "tenant_id": [tenant_id] * len(records),
        "platform": [r.get("platform") for r in records],
        "influencer_id": [_str(r.get("id")) for r in records],
        "handle": [r.get("username") for r in records],
        "display_name": [r.get("name") for r in records],
        "followers": int_column("followers", [r.get("followers_count") for r in records]),
        "engagement_rate": [_float(r.get("engagement_rate")) for r in records],
        "avg_reach": int_column("avg_reach", [r.get("avg_reach") for r in records]),
        "category": [r.get("category") for r in records],
        "country": [r.get("country") for r in records],
    }
    frame = frame_from_columns("social_influencers", columns)
    return _latest(frame, ["tenant_id", "platform", "influencer_id"], issues, report)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------
class SocialClient:
    """Social-listening client for one brand (the token selects it). Use as a context manager."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        landing: LandingZone | None = None,
        tenant_id: str | None = None,
        settings: SocialSettings | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not access_token:
            raise AuthError("social API access token is empty", platform=PLATFORM)
        settings = settings or SocialSettings()
        self.settings = settings
        self.tenant_id = tenant_id
        self.landing = landing
        self.report = ParseReport()  # drift and repeats the parsers noticed (pipelines/ drains it)
        self.http = HttpClient(
            base_url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            transport=transport,
            secrets=(access_token,),
            sleep=sleep,
            rng=rng,
            platform=PLATFORM,
            classify=classify_social,
            pacer=lambda r: usage_pause(r, settings),
        )

    def __enter__(self) -> SocialClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"SocialClient(tenant_id={self.tenant_id!r})"

    def _tenant(self) -> str:
        if not self.tenant_id:
            raise ValueError("tenant_id is required (pass it to the client)")
        return self.tenant_id

    def _paged(self, path: str, params: Mapping[str, Any], source: str, partition: str) -> Iterator[Page]:
        seq = 0

        def fetch(next_url: str | None) -> Page:
            nonlocal seq
            result = self.http.get_json(next_url) if next_url else self.http.get_json(path, params=params)
            if not isinstance(result.data, dict) or not isinstance(result.data.get("data"), list):
                raise PermanentError("unexpected social API page: no 'data' list", platform=PLATFORM)
            meta = self.http.landing_meta(result)
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

    # -- reads ---------------------------------------------------------------------------------------
    def list_accounts(self) -> list[dict[str, Any]]:
        pages = self._paged("accounts", {"limit": self.settings.page_size}, "social_accounts", "current")
        return [dict(a) for a in _data(pages)]

    def iter_posts(self, account_id: str, *, since: datetime | None = None) -> Iterator[Page]:
        if not str(account_id).isdigit():
            raise ValueError(f"bad social account id: {account_id!r}")
        params: dict[str, Any] = {"limit": self.settings.page_size}
        if since is not None:
            params["since"] = _unix(since)
        part = f"{account_id}.{_label(since)}"
        return self._paged(f"accounts/{account_id}/posts", params, "social_posts", part)

    def iter_mentions(self, keyword: str, *, since: datetime | None = None) -> Iterator[Page]:
        params: dict[str, Any] = {"q": keyword, "limit": self.settings.page_size}
        if since is not None:
            params["since"] = _unix(since)
        return self._paged("mentions", params, "social_mentions", _label(since))

    def iter_influencers(self) -> Iterator[Page]:
        return self._paged("influencers", {"limit": self.settings.page_size}, "social_influencers", "current")

    def fetch_posts(self, *, since: datetime | None = None) -> tuple[pl.DataFrame, int]:
        """Every own account's posts created at or after `since` (all when None): (frame, pages)."""
        pages = [
            p for account in self.list_accounts() for p in self.iter_posts(str(account["id"]), since=since)
        ]
        return parse_posts(pages, self._tenant(), report=self.report), len(pages)

    def fetch_mentions(self, keyword: str, *, since: datetime | None = None) -> tuple[pl.DataFrame, int]:
        pages = list(self.iter_mentions(keyword, since=since))
        return parse_mentions(pages, self._tenant(), report=self.report), len(pages)

    def fetch_influencers(self) -> tuple[pl.DataFrame, int]:
        pages = list(self.iter_influencers())
        return parse_influencers(pages, self._tenant(), report=self.report), len(pages)


def _unix(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _label(since: datetime | None) -> str:
    return "all" if since is None else f"since={since:%Y%m%dT%H%M%S}"
