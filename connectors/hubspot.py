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
import pyarrow as pa

from connectors.contracts import TS, frame_from_columns, to_int
from connectors.drift import (
    ParseReport,
    RowIssues,
    absent_rows,
    mark_absent,
    new_fields,
    number_column,
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


# Columnar parsing. Each page's records go into an Arrow array as the page arrives: pyarrow converts the
# dicts in C and refuses any value that is not what the field holds (a number where a string belongs, a
# string for `archived`), so no column is built by a per-record comprehension, and a read no longer holds
# every record's dicts until the end (with a few hundred thousand dicts alive, the cyclic GC's full
# collections cost more than the parsing). A page the Arrow path cannot take exactly (a record that is
# not a JSON object, a value of another type) is kept as it came and goes through the per-record builder
# (`_contact_rows` / `_deal_rows`, the reference the Arrow path equals) after every page is read, as
# before. Drift (new keys and properties, absent required properties) is collected page by page.
_TOP_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("id", pa.string()),
    ("createdAt", pa.string()),
    ("updatedAt", pa.string()),
    ("archived", pa.bool_()),
    ("archivedAt", pa.string()),
)
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


@dataclass
class _PageRun:
    """Consecutive pages read the same way: Arrow chunks (`rows` None) or the record dicts (`rows`)."""

    chunks: list[pa.StructArray] = field(default_factory=list)
    rows: list[Any] | None = None
    extra: list[list[Any]] = field(default_factory=list)  # per-record values the parser collects


class _Read:
    """One read of contacts or deals, page by page."""

    def __init__(
        self,
        prop_names: Iterable[str],
        required: Sequence[str],
        asked: Sequence[str] | None,
        extra: Callable[[list[dict[str, Any]]], list[list[Any]]] | None = None,
    ) -> None:
        props = pa.struct([(name, pa.string()) for name in dict.fromkeys(prop_names)])
        self.record_type = pa.struct([*_TOP_FIELDS, ("properties", props)])
        self.asked = asked
        self.wanted = [name for name in required if asked is not None and name in asked]
        self.extra = extra
        self.keys: set[str] = set()
        self.names: set[str] = set()
        self.absent: dict[str, list[int]] = {name: [] for name in self.wanted}
        self.runs: list[_PageRun] = []
        self.height = 0

    def add(self, page: Page | Mapping[str, Any]) -> None:
        body = page_body(page)
        if not isinstance(body, Mapping) or not isinstance(body.get("results", []), list):
            raise PermanentError("unexpected HubSpot page shape: no 'results' list", platform=PLATFORM)
        results: list[Any] = body.get("results", [])
        offset = self.height
        self.height += len(results)
        absent: dict[str, list[int]] = {name: [] for name in self.wanted}
        chunk = None
        if self._scan(results, absent):
            try:
                chunk = pa.array(results, type=self.record_type)
            except _ARROW_ERRORS:
                chunk = None
        else:
            absent = {name: absent_rows(results, ("properties", name)) for name in self.wanted}
        for name, rows in absent.items():
            self.absent[name].extend(i + offset for i in rows)
        if chunk is None:
            self._scan_as_before(results)
            self.runs.append(_PageRun(rows=list(results)))
            return
        if not self.runs or self.runs[-1].rows is not None:
            self.runs.append(_PageRun())
        run = self.runs[-1]
        run.chunks.append(chunk)
        if self.extra is not None:
            values = self.extra(results)
            if not run.extra:
                run.extra = [[] for _ in values]
            for into, more in zip(run.extra, values, strict=True):
                into.extend(more)

    def _scan(self, results: list[Any], absent: dict[str, list[int]]) -> bool:
        """Collect record keys, property names and (into `absent`) the records without a required
        property; False when a record is not a dict or its `properties` neither a dict nor empty."""
        keys, names, check_names = self.keys, self.names, self.asked is not None
        wanted = self.wanted
        for i, record in enumerate(results):
            if type(record) is not dict:
                return False
            keys.update(record)
            props = record.get("properties")
            if type(props) is dict:
                if check_names:
                    names.update(props)
                for name in wanted:
                    if name not in props:
                        absent[name].append(i)
            elif props:
                return False
            else:  # null, absent or empty: no property at all
                for name in wanted:
                    absent[name].append(i)
        return True

    def _scan_as_before(self, results: list[Any]) -> None:
        """Keys and property names of a page of odd records, collected as the per-record parser did
        (what it cannot read, the per-record builder raises on later, as before)."""
        for record in results:
            try:
                self.keys.update(record.keys())
                if self.asked is not None:
                    self.names.update((record.get("properties") or {}).keys())
            except AttributeError:
                continue

    def drift(self, source: str, report: ParseReport | None) -> RowIssues:
        """Drift over every record of the read: unexpected keys and properties are reported; records
        without a required property (absent, not null) are marked."""
        issues = RowIssues()
        new_fields(self.keys, _KNOWN_KEYS, source=source, report=report)
        if self.asked is None:
            return issues
        expected = {f"properties.{n}" for n in {*self.asked, *_DEFAULT_PROPERTIES}}
        new_fields({f"properties.{n}" for n in self.names}, expected, source=source, report=report)
        for name in self.wanted:
            mark_absent(f"properties.{name}", self.absent[name], source=source, report=report, issues=issues)
        return issues

    def arrow_frame(self, run: _PageRun) -> pl.DataFrame:
        """A run's Arrow chunks as one frame: top-level fields by name, properties as `p.<name>` (null
        when the record has no `properties` object)."""
        whole = pa.concat_arrays(run.chunks) if len(run.chunks) > 1 else run.chunks[0]
        top = dict(zip([f.name for f in self.record_type], whole.flatten(), strict=True))
        props = top.pop("properties")
        columns = {**top, **{f"p.{f.name}": a for f, a in zip(props.type, props.flatten(), strict=True)}}
        return pl.DataFrame(pl.from_arrow(pa.table(columns)))


def _or_else(first: str, second: str) -> pl.Expr:
    """`p.get(prop) or r.get(key)` over string columns: a null or empty `first` gives `second`."""
    value = pl.col(first)
    return pl.when(value.is_null() | (value == "")).then(pl.col(second)).otherwise(value)


def _series(name: str, values: list[Any], kind: str) -> pl.Series:
    """A column from a list as `frame_from_columns` converts it: text (timestamps, before parsing),
    string or boolean."""
    if kind == "text":
        values = [None if v is None else str(v) for v in values]
    dtype = pl.Boolean() if kind == "bool" else pl.String()
    return pl.Series(name, values, dtype=dtype, strict=False)


def _assemble(
    table: str,
    tenant_id: str,
    height: int,
    parts: list[pl.DataFrame],
    kinds: Mapping[str, str],
    more: Mapping[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """The raw frame from the runs' columns (in page order), as `frame_from_columns` builds it."""
    columns: dict[str, Any] = {"tenant_id": [tenant_id] * height}
    built = pl.concat(parts, how="vertical") if parts else None
    for col in kinds:
        columns[col] = built[col] if built is not None else []
    columns.update(more or {})
    ts = []
    for col, kind in kinds.items():
        if kind == "text":
            parsed = _hubspot_timestamps(columns[col]) if built is not None else None
            if parsed is None:
                ts.append(col)  # the general parse (`parse_timestamp_columns`)
            else:
                columns[col] = parsed
    return frame_from_columns(table, columns, timestamp_strings=ts)


#: HubSpot's own timestamp form, '2026-01-31T12:34:56.789Z' (UTC, milliseconds).
_HUBSPOT_TS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"


def _hubspot_timestamps(text: pl.Series) -> pl.Series | None:
    """A text column every value of which is null or in HubSpot's own form, parsed with that fixed
    format (several times faster than the general parse, same instants); None when some value has
    another form or does not parse (an impossible date): the general parse then reads the column."""
    if not text.str.contains(_HUBSPOT_TS).all():  # nulls are ignored
        return None
    parsed = text.str.strptime(TS, "%Y-%m-%dT%H:%M:%S.%3fZ", strict=False)
    return parsed if parsed.null_count() == text.null_count() else None


_CONTACT_KINDS: dict[str, str] = {
    "id": "str",
    "email": "str",
    "firstname": "str",
    "lastname": "str",
    "lifecyclestage": "str",
    "anonymous_id": "str",
    "createdate": "text",
    "lastmodifieddate": "text",
    **{col: "text" for col in _LIFECYCLE_DATES},
    "archived": "bool",
    "marketing_opt_in": "bool",
    "opt_in_date": "text",
    "opt_out_date": "text",
    "archived_at": "text",
}


def _contact_rows(records: list[Any], consent: ConsentMapping) -> pl.DataFrame:
    """The per-record builder: the contact columns of `records` (timestamps as text, no tenant_id)."""
    props = [r.get("properties") or {} for r in records]
    columns: dict[str, list[Any]] = {
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
    return pl.DataFrame([_series(col, columns[col], kind) for col, kind in _CONTACT_KINDS.items()])


def _contact_arrow(frame: pl.DataFrame, consent: ConsentMapping) -> pl.DataFrame:
    """`_contact_rows` of the same records, from their Arrow columns (every value a string or null,
    `archived` a bool or null). Consent is `_opted_in` of each distinct (opt-out, legal basis) pair."""
    pairs = frame.select(o=pl.col(f"p.{consent.opt_out}"), b=pl.col(f"p.{consent.legal_basis}"))
    distinct = pairs.unique()
    opted = [
        _opted_in({consent.legal_basis: b, consent.opt_out: o}, consent) for o, b in distinct.iter_rows()
    ]
    distinct = distinct.with_columns(pl.Series("marketing_opt_in", opted, dtype=pl.Boolean()))
    opt_in = pairs.join(distinct, on=["o", "b"], how="left", nulls_equal=True, maintain_order="left")
    expressions = {
        "id": pl.col("id"),
        **{c: pl.col(f"p.{c}") for c in ("email", "firstname", "lastname", "lifecyclestage", "anonymous_id")},
        "createdate": _or_else("p.createdate", "createdAt"),
        "lastmodifieddate": _or_else("p.lastmodifieddate", "updatedAt"),
        **{col: pl.col(f"p.{prop}") for col, prop in _LIFECYCLE_DATES.items()},
        "archived": pl.col("archived").fill_null(False),
        "marketing_opt_in": pl.lit(opt_in["marketing_opt_in"]),
        "opt_in_date": pl.col(f"p.{consent.opt_in_date}"),
        "opt_out_date": pl.col(f"p.{consent.opt_out_date}"),
        "archived_at": pl.col("archivedAt"),
    }
    return frame.select(expr.alias(col) for col, expr in expressions.items())


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
    Built column by column from Arrow arrays, page by page (the same frame as record by record)."""
    settings = settings or HubSpotSettings()
    consent = settings.consent
    prop_names = [
        *(
            "email",
            "firstname",
            "lastname",
            "lifecyclestage",
            "anonymous_id",
            "createdate",
            "lastmodifieddate",
        ),
        *_LIFECYCLE_DATES.values(),
        *(consent.opt_out, consent.legal_basis, consent.opt_in_date, consent.opt_out_date),
    ]
    read = _Read(prop_names, settings.required_properties.get("contacts", ()), properties)
    for page in pages:
        read.add(page)
    parts = [
        _contact_rows(run.rows, consent)
        if run.rows is not None
        else _contact_arrow(read.arrow_frame(run), consent)
        for run in read.runs
    ]
    issues = read.drift("hubspot_contacts", report)
    frame = issues.mark(_assemble("hubspot_contacts", tenant_id, read.height, parts, _CONTACT_KINDS))
    return _latest_per_id(frame, report)


def _first_contact(record: Mapping[str, Any]) -> str | None:
    """`associated_ids(record, "contacts")[0]` (None when there is none), without building the list
    for the usual shape (the first item carries a string `id`)."""
    assoc = record.get("associations")
    if type(assoc) is dict:
        contacts = assoc.get("contacts")
        if type(contacts) is dict:
            results = contacts.get("results")
            if type(results) is list and results and type(results[0]) is dict:
                value = results[0].get("id")
                if type(value) is str:
                    return value
    ids = associated_ids(record, "contacts")
    return ids[0] if ids else None


def _deal_extra(records: list[dict[str, Any]]) -> list[list[Any]]:
    """What the Arrow record type leaves out: the first associated contact and the raw `amount`."""
    contact_ids = [_first_contact(r) for r in records]
    amounts = [(r.get("properties") or {}).get("amount") for r in records]
    return [contact_ids, amounts]


_DEAL_KINDS: dict[str, str] = {
    "id": "str",
    "contact_id": "str",
    "dealname": "str",
    "dealstage": "str",
    "pipeline": "str",
    "createdate": "text",
    "closedate": "text",
    "lastmodifieddate": "text",
    "archived": "bool",
}


def _deal_rows(records: list[Any]) -> tuple[pl.DataFrame, list[Any]]:
    """The per-record builder: the deal columns of `records` (timestamps as text, no tenant_id, no
    amount) and the raw amounts."""
    props = [r.get("properties") or {} for r in records]
    contact_ids = []
    for r in records:
        contacts = associated_ids(r, "contacts")
        contact_ids.append(contacts[0] if contacts else None)
    columns: dict[str, list[Any]] = {
        "id": [_str(r.get("id")) for r in records],
        "contact_id": contact_ids,
        "dealname": [p.get("dealname") for p in props],
        "dealstage": [p.get("dealstage") for p in props],
        "pipeline": [p.get("pipeline") for p in props],
        "createdate": _with_fallback(props, "createdate", records, "createdAt"),
        "closedate": [p.get("closedate") for p in props],
        "lastmodifieddate": _with_fallback(props, "hs_lastmodifieddate", records, "updatedAt"),
        "archived": [bool(r.get("archived", False)) for r in records],
    }
    frame = pl.DataFrame([_series(col, columns[col], kind) for col, kind in _DEAL_KINDS.items()])
    return frame, [p.get("amount") for p in props]


def _deal_arrow(frame: pl.DataFrame, contact_ids: list[Any]) -> pl.DataFrame:
    """`_deal_rows` of the same records from their Arrow columns (plus the collected contact ids)."""
    expressions = {
        "id": pl.col("id"),
        "contact_id": pl.lit(pl.Series(contact_ids, dtype=pl.String())),
        **{c: pl.col(f"p.{c}") for c in ("dealname", "dealstage", "pipeline")},
        "createdate": _or_else("p.createdate", "createdAt"),
        "closedate": pl.col("p.closedate"),
        "lastmodifieddate": _or_else("p.hs_lastmodifieddate", "updatedAt"),
        "archived": pl.col("archived").fill_null(False),
    }
    return frame.select(expr.alias(col) for col, expr in expressions.items())


def parse_deals(
    pages: Iterable[Page | Mapping[str, Any]],
    tenant_id: str,
    *,
    properties: Sequence[str] | None = None,
    settings: HubSpotSettings | None = None,
    report: ParseReport | None = None,
) -> pl.DataFrame:
    """-> raw.hubspot_deals. amount exact Decimal(18,2) (text such as "1,234.50" read exactly, or the
    record marked for quarantine); contact_id = the first associated contact. Built from Arrow arrays
    page by page, as `parse_contacts`."""
    settings = settings or HubSpotSettings()
    prop_names = ("dealname", "dealstage", "pipeline", "createdate", "closedate", "hs_lastmodifieddate")
    read = _Read(prop_names, settings.required_properties.get("deals", ()), properties, extra=_deal_extra)
    for page in pages:
        read.add(page)
    parts: list[pl.DataFrame] = []
    amounts: list[Any] = []
    for run in read.runs:
        if run.rows is not None:
            part, more = _deal_rows(run.rows)
        else:
            part, more = _deal_arrow(read.arrow_frame(run), run.extra[0]), run.extra[1]
        parts.append(part)
        amounts.extend(more)
    issues = read.drift("hubspot_deals", report)
    amount = number_column("amount", amounts, "money", source="hubspot_deals", report=report, issues=issues)
    frame = _assemble("hubspot_deals", tenant_id, read.height, parts, _DEAL_KINDS, {"amount": amount})
    return _latest_per_id(issues.mark(frame), report)


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
