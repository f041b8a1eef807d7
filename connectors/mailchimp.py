"""Mailchimp Marketing API 3.0 connector: campaign reports -> `raw.mailchimp_email_reports`.

Wire format (../shared/PLATFORMS.md): `GET /3.0/reports?count&offset&since_send_time` returns
`{"reports": [...], "total_items": N}` (offset paging: read until `offset >= total_items`); counts are
JSON integers, bounces/opens/clicks nested. Auth is HTTP Basic with any user and the API key; the key's
suffix after the last '-' is the data centre, which names the host (`https://us21.api.mailchimp.com`).

Throttling: HTTP 429 (a problem+json body), or an HTTP 403 *without* a JSON body from Mailchimp's edge;
a 403 with a problem+json body is a real permission error. Mailchimp allows 10 simultaneous connections
per key: this client sends one request at a time, so one client never comes near that limit.

Reports keep changing after a send (opens and clicks arrive for days), so an incremental sync re-reads
the sends of a look-back window (`since_send_time`) and every automation (whose report grows for as long
as it runs), and the warehouse merges on the campaign id.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import polars as pl

from connectors.contracts import frame_from_columns, int_column
from connectors.drift import ParseReport, check_rows, latest_per_key
from connectors.errors import AuthError, PermanentError, RateLimitedError, TransientError
from connectors.http import (
    DEFAULT_TIMEOUT,
    HttpClient,
    Page,
    RetryDecision,
    RetryPolicy,
    page_body,
    parse_retry_after,
    request_id_from,
)
from connectors.landing import LandingZone

PLATFORM = "mailchimp"
SOURCE = "mailchimp_email_reports"
COUNT_FIELDS = {
    "emails_sent": (),
    "abuse_reports": (),
    "unsubscribed": (),
    "hard_bounces": ("bounces",),
    "soft_bounces": ("bounces",),
    "opens_total": ("opens",),
    "unique_opens": ("opens",),
    "clicks_total": ("clicks",),
    "unique_clicks": ("clicks",),
}

# Fields of a report the connector knows (others are reported as drift) and those it cannot do without.
REPORT_FIELDS = frozenset(
    {"id", "campaign_title", "type", "list_id", "list_is_active", "list_name", "subject_line",
     "preview_text", "emails_sent", "abuse_reports", "unsubscribed", "send_time", "bounces", "forwards",
     "opens", "clicks", "_links"}
)  # fmt: skip
REQUIRED_FIELDS = (("id",), ("send_time",), ("emails_sent",), ("opens",), ("clicks",))


@dataclass(frozen=True)
class MailchimpSettings:
    page_size: int = 1000  # `count`; Mailchimp's maximum
    max_pages: int = 10_000  # a guard against a server whose total_items never is reached


def data_centre(api_key: str) -> str:
    """'...-us21' -> 'us21'. Mailchimp keys always end in their data centre."""
    prefix, sep, dc = api_key.rpartition("-")
    if not sep or not prefix or not dc.isalnum():
        raise AuthError("Mailchimp API key has no data-centre suffix (expected '<key>-<dc>', e.g. '-us21')")
    return dc


def classify_mailchimp(response: httpx.Response) -> RetryDecision | None:
    status = response.status_code
    if status < 300:
        return None
    body: Any = None
    if "json" in (response.headers.get("content-type") or ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    problem = body if isinstance(body, dict) else {}
    common = {
        "code": problem.get("title"),
        "message": problem.get("detail"),
        "request_id": problem.get("instance") or request_id_from(response),
    }
    delay = parse_retry_after(response.headers)
    if status == 429:
        return RetryDecision(
            True, RateLimitedError, "Mailchimp HTTP 429 too many requests", delay, True, **common
        )
    if status == 403 and not problem:
        # The edge refuses throttled callers with an HTML 403: not a permission problem.
        return RetryDecision(
            True, RateLimitedError, "Mailchimp HTTP 403 without a JSON body (throttled)", delay, True
        )
    if status in (401, 403):
        return RetryDecision(
            False, AuthError, f"Mailchimp HTTP {status} {problem.get('title', '')}".strip(), **common
        )
    if status >= 500 or status in (408, 409):
        return RetryDecision(True, TransientError, f"Mailchimp HTTP {status}", delay, **common)
    return RetryDecision(
        False, PermanentError, f"Mailchimp HTTP {status} {problem.get('title', '')}".strip(), **common
    )


# ---------------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------------
def _reports(pages: Iterable[Page | Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for page in pages:
        body = page_body(page)
        if not isinstance(body, Mapping) or not isinstance(body.get("reports"), list):
            raise PermanentError("unexpected Mailchimp page shape: no 'reports' list", platform=PLATFORM)
        yield from body["reports"]


def parse_reports(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    account_id: str,
    *,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.mailchimp_email_reports; one row per campaign (the last version read wins).

    Drift (connectors/drift.py): unexpected fields and counts sent as formatted text go to `report`;
    a report without a required field, or with a count that reads two ways, is marked for quarantine;
    exact repeats (a page repeating rows) are counted in `report.duplicates`."""
    records = list(_reports(pages))
    issues = check_rows(
        records,
        source=SOURCE,
        report=report,
        expected=REPORT_FIELDS,
        required=REQUIRED_FIELDS,
        numbers={(*path, name): "int" for name, path in COUNT_FIELDS.items()},
    )
    columns: dict[str, Any] = {
        "tenant_id": [tenant_id] * len(records),
        "account_id": [account_id] * len(records),
        "campaign_id": [_str(r.get("id")) for r in records],
        "campaign_title": [r.get("campaign_title") for r in records],
        "type": [r.get("type") for r in records],
        "list_id": [_str(r.get("list_id")) for r in records],
        "send_time": [r.get("send_time") or None for r in records],
    }
    for name, path in COUNT_FIELDS.items():
        values = [(r.get(path[0]) or {}).get(name) if path else r.get(name) for r in records]
        columns[name] = int_column(name, values)
    frame = issues.mark(frame_from_columns(SOURCE, columns, timestamp_strings=("send_time",)))
    if report is not None:
        report.duplicates += frame.height - frame.unique().height
    return latest_per_key(frame, ["tenant_id", "campaign_id"])


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------
class MailchimpClient:
    """Mailchimp reports client. Use as a context manager."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        landing: LandingZone | None = None,
        tenant_id: str | None = None,
        settings: MailchimpSettings | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise AuthError("Mailchimp API key is empty", platform=PLATFORM)
        dc = data_centre(api_key)
        basic = base64.b64encode(f"marketing-os:{api_key}".encode()).decode()
        self.settings = settings or MailchimpSettings()
        self.tenant_id = tenant_id
        self.landing = landing
        self._account_id: str | None = None
        self.report = ParseReport()  # drift and repeats the parser noticed (pipelines/ drains it)
        self.http = HttpClient(
            base_url or f"https://{dc}.api.mailchimp.com/3.0",
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            transport=transport,
            secrets=(api_key, basic),
            sleep=sleep,
            rng=rng,
            platform=PLATFORM,
            classify=classify_mailchimp,
        )

    def __enter__(self) -> MailchimpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"MailchimpClient(tenant_id={self.tenant_id!r})"

    def _tenant(self) -> str:
        if not self.tenant_id:
            raise ValueError("tenant_id is required (pass it to the client)")
        return self.tenant_id

    def account_id(self) -> str:
        """The account behind the key (API root `GET /3.0/`), read once."""
        if self._account_id is None:
            data = self.http.get_json("").data
            if not isinstance(data, dict) or not data.get("account_id"):
                raise PermanentError("unexpected Mailchimp API root: no account_id", platform=PLATFORM)
            self._account_id = str(data["account_id"])
        return self._account_id

    def iter_report_pages(
        self,
        *,
        since_send_time: datetime | None = None,
        before_send_time: datetime | None = None,
        report_type: str | None = None,
        partition: str | None = None,
    ) -> Iterator[Page]:
        """GET /3.0/reports page by page (offset paging) until `offset >= total_items`; every page is
        landed before it is yielded."""
        params: dict[str, Any] = {"count": self.settings.page_size}
        if since_send_time is not None:
            params["since_send_time"] = _iso(since_send_time)
        if before_send_time is not None:
            params["before_send_time"] = _iso(before_send_time)
        if report_type:
            params["type"] = report_type
        part = partition or _partition_label(since_send_time, report_type)
        offset, seq = 0, 0
        while True:
            result = self.http.get_json("reports", params={**params, "offset": offset})
            data = result.data
            if not isinstance(data, dict) or not isinstance(data.get("reports"), list):
                raise PermanentError("unexpected Mailchimp page shape: no 'reports' list", platform=PLATFORM)
            meta = self.http.landing_meta(result)
            page = Page(data, seq, meta)
            if self.landing is not None:
                page.landing_path = self.landing.save_page(
                    SOURCE, self._tenant(), part, seq, result.content, meta
                )
            seq += 1
            yield page
            total = data.get("total_items")
            # A page never advances the offset by more than was asked for: a page carrying repeats of
            # the previous one would otherwise skip as many rows of the next.
            offset += min(len(data["reports"]), self.settings.page_size)
            if not data["reports"] or not isinstance(total, int) or offset >= total:
                break
            if seq >= self.settings.max_pages:
                raise PermanentError(f"more than {self.settings.max_pages} report pages", platform=PLATFORM)
        if self.landing is not None:
            self.landing.finish_partition(SOURCE, self._tenant(), part, seq)

    def fetch_reports(self, *, since_send_time: datetime | None = None) -> tuple[pl.DataFrame, int]:
        """Every report (`since_send_time=None`), or the sends since then plus every automation.
        Returns (raw frame, pages read)."""
        pages = list(self.iter_report_pages(since_send_time=since_send_time))
        if since_send_time is not None:
            pages += list(self.iter_report_pages(report_type="automation"))
        return parse_reports(pages, self._tenant(), self.account_id(), report=self.report), len(pages)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # naive datetimes are UTC throughout the warehouse
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _partition_label(since: datetime | None, report_type: str | None) -> str:
    if report_type:
        return f"type={report_type}"
    return "all" if since is None else f"since={since:%Y%m%dT%H%M%S}"
