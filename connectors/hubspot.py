"""HubSpot CRM v3 connector: full reads with `after` paging and incremental search by modified date.

Wire format (../shared/PLATFORMS.md): every property value is a string; list pages carry
`paging.next.after`; the search endpoint caps any one query at 10,000 results, so an incremental sync
restarts its query from the last modified date it saw (GTE) and drops the ids it already yielded at that
instant. 429 bodies say `errorType: RATE_LIMIT` with a `policyName` (a DAILY limit is not worth retrying).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import polars as pl

from connectors.contracts import frame_from_columns, to_int
from connectors.drift import ParseReport, RowIssues, missing_fields, new_fields, number_column
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

PLATFORM = "hubspot"

CONTACT_PROPERTIES: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "lifecyclestage",
    "anonymous_id",
    "createdate",
    "lastmodifieddate",
    "hs_lifecyclestage_lead_date",
    "hs_lifecyclestage_marketingqualifiedlead_date",
    "hs_lifecyclestage_salesqualifiedlead_date",
    "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date",
    "hs_email_optout",
    "hs_legal_basis",
    "marketing_opt_in_date",
    "marketing_opt_out_date",
)
DEAL_PROPERTIES: tuple[str, ...] = (
    "dealname",
    "amount",
    "dealstage",
    "pipeline",
    "createdate",
    "closedate",
    "hs_lastmodifieddate",
)
_LIFECYCLE_DATES = {
    "lead_date": "hs_lifecyclestage_lead_date",
    "mql_date": "hs_lifecyclestage_marketingqualifiedlead_date",
    "sql_date": "hs_lifecyclestage_salesqualifiedlead_date",
    "opportunity_date": "hs_lifecyclestage_opportunity_date",
    "customer_date": "hs_lifecyclestage_customer_date",
}


@dataclass(frozen=True)
class HubSpotPacing:
    """When `X-HubSpot-RateLimit-Remaining` falls to `reserve` or below, sleep a share of the window
    (`X-HubSpot-RateLimit-Interval-Milliseconds`), at most `max_sleep` seconds."""

    reserve: int = 5
    max_sleep: float = 10.0
    enabled: bool = True

    def wait_for(self, headers: Mapping[str, str]) -> float:
        remaining = to_int(headers.get("x-hubspot-ratelimit-remaining"))
        interval_ms = to_int(headers.get("x-hubspot-ratelimit-interval-milliseconds"))
        if not self.enabled or remaining is None or interval_ms is None or remaining > self.reserve:
            return 0.0
        share = (self.reserve - max(remaining, 0) + 1) / (self.reserve + 1)
        return min(self.max_sleep, interval_ms / 1000.0 * share)


@dataclass(frozen=True)
class ConsentMapping:
    """Which portal properties carry marketing consent (raw marketing_opt_in, opt_in_date, opt_out_date).

    `hs_email_optout` and `hs_legal_basis` are HubSpot's own; the dates are custom properties in most
    portals, so their names are settings. Opted in = a consenting legal basis and not opted out; unknown
    (null) when the portal sends neither property."""

    opt_out: str = "hs_email_optout"
    legal_basis: str = "hs_legal_basis"
    consenting_bases: frozenset[str] = frozenset(
        {"Freely given consent from contact", "Performance of a contract"}
    )
    opt_in_date: str = "marketing_opt_in_date"
    opt_out_date: str = "marketing_opt_out_date"


@dataclass(frozen=True)
class HubSpotSettings:
    page_size: int = 100
    search_page_size: int = 100
    #: The search endpoint refuses `after` at or beyond this many results of one query.
    search_window: int = 10_000
    modified_property: Mapping[str, str] = field(
        default_factory=lambda: {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
    )
    default_modified_property: str = "hs_lastmodifieddate"
    association_batch_size: int = 100
    consent: ConsentMapping = field(default_factory=ConsentMapping)
    #: Properties a record cannot do without: absent (not null) ones quarantine the record.
    required_properties: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "contacts": ("email", "lifecyclestage", "createdate"),
            "deals": ("amount", "dealstage", "createdate"),
        }
    )
    non_retry_policies: frozenset[str] = frozenset({"DAILY"})
    pacing: HubSpotPacing = field(default_factory=HubSpotPacing)

    def modified_prop(self, object_type: str) -> str:
        return self.modified_property.get(object_type, self.default_modified_property)


def classify_hubspot(
    response: httpx.Response, settings: HubSpotSettings | None = None
) -> RetryDecision | None:
    settings = settings or HubSpotSettings()
    if response.status_code < 300:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    message = body.get("message")
    category = body.get("category")
    error_type = body.get("errorType")
    policy = body.get("policyName")
    code = error_type or category
    if policy:
        code = f"{code}/{policy}"
    common = {
        "code": code,
        "message": message,
        "request_id": body.get("correlationId") or request_id_from(response),
    }
    if response.status_code == 429 or error_type == "RATE_LIMIT" or category == "RATE_LIMITS":
        retryable = policy not in settings.non_retry_policies
        return RetryDecision(
            retryable,
            RateLimitedError,
            f"HubSpot rate limited ({policy or 'unknown policy'})",
            parse_retry_after(response.headers),
            rejected=True,
            **common,
        )
    if response.status_code in (401, 403):
        return RetryDecision(False, AuthError, f"HubSpot {category or response.status_code}", **common)
    if response.status_code >= 500:
        return RetryDecision(
            True,
            TransientError,
            f"HubSpot HTTP {response.status_code}",
            parse_retry_after(response.headers),
            **common,
        )
    if response.status_code in (408, 409):
        return RetryDecision(True, TransientError, f"HubSpot HTTP {response.status_code}", **common)
    return RetryDecision(False, PermanentError, f"HubSpot {category or response.status_code}", **common)


# ---------------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------------
def _results(pages: Iterable[Page | Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for page in pages:
        body = page_body(page)
        if not isinstance(body, Mapping) or not isinstance(body.get("results", []), list):
            raise PermanentError("unexpected HubSpot page shape: no 'results' list", platform=PLATFORM)
        yield from body.get("results", [])


def _latest_per_id(frame: pl.DataFrame, report: ParseReport | None = None) -> pl.DataFrame:
    """An id can appear twice (modified during the sync, or a page repeating rows when data shifted
    under offset paging): keep its latest version, and count the repeats in `report`."""
    if frame.height == 0 or frame["id"].is_unique().all():
        return frame
    latest = (
        frame.with_row_index("__i")
        .sort(["lastmodifieddate", "__i"], nulls_last=False)
        .unique(subset=["tenant_id", "id"], keep="last", maintain_order=True)
        .sort("__i")
        .drop("__i")
    )
    if report is not None:
        report.duplicates += frame.height - latest.height
    return latest


_KNOWN_KEYS = frozenset(
    {"id", "properties", "createdAt", "updatedAt", "archived", "archivedAt", "associations", "url"}
)
_DEFAULT_PROPERTIES = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"})


def _drift(
    records: list[Mapping[str, Any]],
    props: list[Mapping[str, Any]],
    asked: Sequence[str] | None,
    required: Sequence[str],
    source: str,
    report: ParseReport | None,
    issues: RowIssues,
) -> None:
    """Unexpected keys and properties are reported; records without a required property are marked."""
    keys: set[str] = set()
    for record in records:
        keys.update(record.keys())
    new_fields(keys, _KNOWN_KEYS, source=source, report=report)
    if asked is None:
        return
    names: set[str] = set()
    for p in props:
        names.update(p.keys())
    expected = {f"properties.{n}" for n in {*asked, *_DEFAULT_PROPERTIES}}
    new_fields({f"properties.{n}" for n in names}, expected, source=source, report=report)
    wanted = [("properties", name) for name in required if name in asked]
    # A property every record carries needs no per-record check (`props` holds each record's dict).
    wanted = [w for w in wanted if not all(type(p) is dict and w[1] in p for p in props)]
    if wanted:
        missing_fields(records, wanted, source=source, report=report, issues=issues)


def parse_contacts(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    *,
    properties: Sequence[str] | None = None,
    settings: HubSpotSettings | None = None,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.hubspot_contacts. Timestamps parsed from ISO strings to naive UTC; one row per id (the
    latest version when a record was yielded twice). Consent from `settings.consent`; `archived` and
    `archived_at` as HubSpot sends them (archived records come from `archived=true` listings).
    With `properties` (what was asked), drift is reported and incomplete records marked for quarantine.
    Built column by column (same frame as row by row)."""
    settings = settings or HubSpotSettings()
    consent = settings.consent
    records = list(_results(pages))
    props = [r.get("properties") or {} for r in records]
    issues = RowIssues()
    required = settings.required_properties.get("contacts", ())
    _drift(records, props, properties, required, "hubspot_contacts", report, issues)
    columns: dict[str, list[Any]] = {
        "tenant_id": [tenant_id] * len(records),
        "id": [_str(r.get("id")) for r in records],
        "email": [p.get("email") for p in props],
        "firstname": [p.get("firstname") for p in props],
        "lastname": [p.get("lastname") for p in props],
        "lifecyclestage": [p.get("lifecyclestage") for p in props],
        "anonymous_id": [p.get("anonymous_id") for p in props],
        "createdate": _with_fallback(props, "createdate", records, "createdAt"),
        "lastmodifieddate": _with_fallback(props, "lastmodifieddate", records, "updatedAt"),
        "archived": [bool(r.get("archived", False)) for r in records],
        "marketing_opt_in": [_opted_in(p, consent) for p in props],
        "opt_in_date": [p.get(consent.opt_in_date) for p in props],
        "opt_out_date": [p.get(consent.opt_out_date) for p in props],
        "archived_at": [r.get("archivedAt") for r in records],
    }
    for col, prop in _LIFECYCLE_DATES.items():
        columns[col] = [p.get(prop) for p in props]
    ts = ("createdate", "lastmodifieddate", *_LIFECYCLE_DATES, "opt_in_date", "opt_out_date", "archived_at")
    frame = issues.mark(frame_from_columns("hubspot_contacts", columns, timestamp_strings=ts))
    return _latest_per_id(frame, report)


def _opted_in(props: Mapping[str, Any], consent: ConsentMapping) -> bool | None:
    opt_out, basis = props.get(consent.opt_out), props.get(consent.legal_basis)
    if opt_out is None and basis is None:
        return None
    if str(opt_out).strip().lower() == "true":
        return False
    return basis in consent.consenting_bases


def _with_fallback(
    props: list[Mapping[str, Any]], prop: str, records: list[Mapping[str, Any]], key: str
) -> list[Any]:
    """`[p.get(prop) or r.get(key) for p, r in zip(props, records)]`."""
    return [p.get(prop) or r.get(key) for p, r in zip(props, records, strict=True)]


def associated_ids(record: Mapping[str, Any], to_type: str = "contacts") -> list[str]:
    """Ids associated with a record, from the v3 `associations` block (list/read with associations=)."""
    assoc = (record.get("associations") or {}).get(to_type) or {}
    out = []
    for item in assoc.get("results", []) if isinstance(assoc, Mapping) else []:
        value = item.get("id", item.get("toObjectId")) if isinstance(item, Mapping) else None
        if value is not None and str(value) not in out:
            out.append(str(value))
    return out


def parse_deals(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    *,
    properties: Sequence[str] | None = None,
    settings: HubSpotSettings | None = None,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.hubspot_deals. amount exact Decimal(18,2) (text such as "1,234.50" read exactly, or the
    record marked for quarantine); contact_id = the first associated contact."""
    settings = settings or HubSpotSettings()
    records = list(_results(pages))
    props = [r.get("properties") or {} for r in records]
    issues = RowIssues()
    required = settings.required_properties.get("deals", ())
    _drift(records, props, properties, required, "hubspot_deals", report, issues)
    contact_ids = []
    for r in records:
        contacts = associated_ids(r, "contacts")
        contact_ids.append(contacts[0] if contacts else None)
    columns: dict[str, Any] = {
        "tenant_id": [tenant_id] * len(records),
        "id": [_str(r.get("id")) for r in records],
        "contact_id": contact_ids,
        "dealname": [p.get("dealname") for p in props],
        "amount": number_column(
            "amount",
            [p.get("amount") for p in props],
            "money",
            source="hubspot_deals",
            report=report,
            issues=issues,
        ),
        "dealstage": [p.get("dealstage") for p in props],
        "pipeline": [p.get("pipeline") for p in props],
        "createdate": _with_fallback(props, "createdate", records, "createdAt"),
        "closedate": [p.get("closedate") for p in props],
        "lastmodifieddate": _with_fallback(props, "hs_lastmodifieddate", records, "updatedAt"),
        "archived": [bool(r.get("archived", False)) for r in records],
    }
    ts = ("createdate", "closedate", "lastmodifieddate")
    frame = issues.mark(frame_from_columns("hubspot_deals", columns, timestamp_strings=ts))
    return _latest_per_id(frame, report)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # naive datetimes are UTC throughout the warehouse
    return int(value.timestamp() * 1000)


def _record_modified_ms(record: Mapping[str, Any], prop: str) -> int | None:
    raw = (record.get("properties") or {}).get(prop) or record.get("updatedAt")
    if raw is None:
        return None
    text = str(raw)
    if text.isdigit():
        return int(text)
    try:
        return _epoch_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------
_TYPE_RE = re.compile(r"^[a-z0-9_]+$")


class HubSpotClient:
    """HubSpot CRM v3 client. Use as a context manager."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str = "https://api.hubapi.com",
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        landing: LandingZone | None = None,
        tenant_id: str | None = None,
        settings: HubSpotSettings | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not access_token:
            raise AuthError("HubSpot access token is empty", platform=PLATFORM)
        settings = settings or HubSpotSettings()
        self.settings = settings
        self.tenant_id = tenant_id
        self.landing = landing
        self.report = ParseReport()  # drift and duplicates the parsers noticed (pipelines/ drains it)
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
            classify=lambda r: classify_hubspot(r, settings),
            pacer=lambda r: settings.pacing.wait_for(r.headers),
        )

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"HubSpotClient(tenant_id={self.tenant_id!r})"

    def _tenant(self) -> str:
        if not self.tenant_id:
            raise ValueError("tenant_id is required (pass it to the client)")
        return self.tenant_id

    def _page(self, result: Any, seq: int, source: str, partition: str) -> Page:
        if not isinstance(result.data, dict):
            raise PermanentError("unexpected HubSpot answer: not a JSON object", platform=PLATFORM)
        meta = self.http.landing_meta(result)
        page = Page(result.data, seq, meta)
        if self.landing is not None:
            page.landing_path = self.landing.save_page(
                source, self._tenant(), partition, seq, result.content, meta
            )
        return page

    # -- full reads -------------------------------------------------------------------------------------
    def iter_objects(
        self,
        object_type: str,
        properties: Sequence[str],
        associations: Sequence[str] | None = None,
        *,
        archived: bool = False,
        partition: str = "full",
    ) -> Iterator[Page]:
        """GET /crm/v3/objects/{type}, following `paging.next.after` until absent."""
        _check_type(object_type)
        params: dict[str, Any] = {
            "limit": self.settings.page_size,
            "properties": ",".join(properties),
            "archived": "true" if archived else "false",
        }
        if associations:
            params["associations"] = ",".join(associations)
        source = f"hubspot_{object_type}"
        seq = 0

        def fetch(after: str | None) -> Page:
            nonlocal seq
            q = dict(params, after=after) if after else params
            page = self._page(
                self.http.get_json(f"crm/v3/objects/{object_type}", params=q), seq, source, partition
            )
            seq += 1
            return page

        yield from iter_pages(fetch, _next_after, platform=PLATFORM)
        if self.landing is not None:
            self.landing.finish_partition(source, self._tenant(), partition, seq)

    # -- incremental ---------------------------------------------------------------------------------------
    def search_modified_since(
        self,
        object_type: str,
        since: datetime,
        properties: Sequence[str],
        *,
        until: datetime | None = None,
        partition: str | None = None,
    ) -> Iterator[Page]:
        """POST /crm/v3/objects/{type}/search for records modified at or after `since` (and before
        `until`), ascending by modified date, `search_page_size` per page.

        One query may not page past `search_window` results, so before reaching it the search restarts
        from the last modified date seen (GTE); records already yielded at that instant are dropped from
        the new window's pages (the landed page keeps the body as received). Yields pages whose
        `results` hold only records not yielded before.
        """
        _check_type(object_type)
        prop = self.settings.modified_prop(object_type)
        props = list(dict.fromkeys([*properties, prop]))
        limit = self.settings.search_page_size
        window = self.settings.search_window
        start_ms = _epoch_ms(since)
        until_ms = _epoch_ms(until) if until is not None else None
        source = f"hubspot_{object_type}"
        part = partition or f"since-{start_ms}"
        url = f"crm/v3/objects/{object_type}/search"
        seq = 0
        window_start = start_ms
        skip_ids: set[str] = set()  # ids already yielded whose modified == window_start
        last_ms: int | None = None
        ids_at_last: set[str] = set()
        after: str | None = None
        in_window = 0
        while True:
            filters: list[dict[str, Any]] = [
                {"propertyName": prop, "operator": "GTE", "value": str(window_start)}
            ]
            if until_ms is not None:
                filters.append({"propertyName": prop, "operator": "LT", "value": str(until_ms)})
            body: dict[str, Any] = {
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                "properties": props,
                "limit": limit,
            }
            if after:
                body["after"] = after
            page = self._page(self.http.post_json(url, json=body, idempotent=True), seq, source, part)
            seq += 1
            results = page.data.get("results") or []
            fresh = []
            for record in results:
                rid = str(record.get("id"))
                if rid in skip_ids:
                    continue
                fresh.append(record)
                mod = _record_modified_ms(record, prop)
                if mod is None:
                    continue
                if last_ms is None or mod > last_ms:
                    last_ms, ids_at_last = mod, {rid}
                elif mod == last_ms:
                    ids_at_last.add(rid)
            in_window += len(results)
            page.data = {**page.data, "results": fresh}
            yield page
            nxt = _next_after(page)
            if nxt is None:
                break
            offset = to_int(nxt)
            if (offset if offset is not None else in_window) >= window:  # the next `after` is refused
                if last_ms is None or last_ms <= window_start:
                    raise PermanentError(
                        f"HubSpot search: more than {window} {object_type} share one modified date "
                        f"({window_start}); cannot move the window forward",
                        platform=PLATFORM,
                    )
                skip_ids = set(ids_at_last)
                window_start, after, in_window = last_ms, None, 0
                continue
            after = nxt
        if self.landing is not None:
            self.landing.finish_partition(source, self._tenant(), part, seq)

    def read_associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """POST /crm/v4/associations/{from}/{to}/batch/read in batches -> {from_id: [to_id, ...]}.
        Where that endpoint does not exist (404), falls back to GET /crm/v3/objects/{from}/{id}?associations=."""
        _check_type(from_type)
        _check_type(to_type)
        out: dict[str, list[str]] = {}
        size = self.settings.association_batch_size
        for i in range(0, len(ids), size):
            chunk = [{"id": str(x)} for x in ids[i : i + size]]
            try:
                result = self.http.post_json(
                    f"crm/v4/associations/{from_type}/{to_type}/batch/read",
                    json={"inputs": chunk},
                    idempotent=True,
                )
            except PermanentError as exc:
                if exc.status != 404:
                    raise
                return self._read_associations_one_by_one(from_type, to_type, ids)
            for item in (result.data or {}).get("results", []):
                src = str((item.get("from") or {}).get("id"))
                known = out.setdefault(src, [])
                for t in item.get("to", []):
                    target = str(t.get("toObjectId", t.get("id"))) if isinstance(t, Mapping) else None
                    if target is not None and target not in known:
                        known.append(target)
        return out

    def _read_associations_one_by_one(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for object_id in ids:
            if not str(object_id).isdigit():
                raise ValueError(f"bad HubSpot object id: {object_id!r}")
            result = self.http.get_json(
                f"crm/v3/objects/{from_type}/{object_id}",
                params={"associations": to_type, "properties": "hs_object_id"},
            )
            out[str(object_id)] = associated_ids(result.data or {}, to_type)
        return out

    # -- convenience ----------------------------------------------------------------------------------------
    def _parse(self, object_type: str, pages: Iterable[Page], properties: Sequence[str]) -> pl.DataFrame:
        parser = parse_contacts if object_type == "contacts" else parse_deals
        return parser(
            pages, self._tenant(), properties=properties, settings=self.settings, report=self.report
        )

    def fetch_contacts(
        self, properties: Sequence[str] = CONTACT_PROPERTIES, *, archived: bool = False
    ) -> pl.DataFrame:
        """Every contact (or, with `archived=True`, every archived one: they are not deleted)."""
        partition = "archived" if archived else "full"
        pages = self.iter_objects("contacts", properties, archived=archived, partition=partition)
        return self._parse("contacts", pages, properties)

    def fetch_deals(
        self, properties: Sequence[str] = DEAL_PROPERTIES, *, archived: bool = False
    ) -> pl.DataFrame:
        partition = "archived" if archived else "full"
        pages = self.iter_objects(
            "deals", properties, associations=("contacts",), archived=archived, partition=partition
        )
        return self._parse("deals", pages, properties)

    def fetch_contacts_modified_since(
        self,
        since: datetime,
        properties: Sequence[str] = CONTACT_PROPERTIES,
        *,
        until: datetime | None = None,
    ) -> pl.DataFrame:
        pages = self.search_modified_since("contacts", since, properties, until=until)
        return self._parse("contacts", pages, properties)

    def fetch_deals_modified_since(
        self, since: datetime, properties: Sequence[str] = DEAL_PROPERTIES, *, until: datetime | None = None
    ) -> pl.DataFrame:
        """Search results carry no associations: they are read in batches and attached before parsing."""
        pages = list(self.search_modified_since("deals", since, properties, until=until))
        ids = [str(r.get("id")) for p in pages for r in p.data.get("results", [])]
        links = self.read_associations("deals", "contacts", ids) if ids else {}
        for p in pages:
            p.data = {
                **p.data,
                "results": [
                    {
                        **r,
                        "associations": {
                            "contacts": {"results": [{"id": c} for c in links.get(str(r.get("id")), [])]}
                        },
                    }
                    if not associated_ids(r)
                    else r
                    for r in p.data.get("results", [])
                ],
            }
        return self._parse("deals", pages, properties)


def _next_after(page: Page) -> str | None:
    paging = page.data.get("paging") or {}
    nxt = paging.get("next") if isinstance(paging, Mapping) else None
    after = nxt.get("after") if isinstance(nxt, Mapping) else None
    return str(after) if after not in (None, "") else None


def _check_type(object_type: str) -> None:
    if not _TYPE_RE.match(object_type):
        raise ValueError(f"bad HubSpot object type: {object_type!r}")
