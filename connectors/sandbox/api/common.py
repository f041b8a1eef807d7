"""Plumbing shared by the fake platform APIs: request context, limits, responses, cursors, formatting.

Nothing here knows a platform's wire format; that lives in `meta.py`, `google_ads.py` and `hubspot.py`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import polars as pl

try:  # optional accelerator: writes the same bytes as json.dumps for the payloads it is given (below)
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

PLATFORMS: tuple[str, ...] = ("meta", "google_ads", "hubspot", "linkedin", "tiktok", "mailchimp", "social")

# In-process the fake APIs answer on the real hosts, so a connector only swaps its transport.
REAL_HOSTS: dict[str, str] = {
    "graph.facebook.com": "meta",
    "googleads.googleapis.com": "google_ads",
    "api.hubapi.com": "hubspot",
    "api.linkedin.com": "linkedin",
    "business-api.tiktok.com": "tiktok",
    "api.social.sandbox": "social",
}
# Mailchimp's host names the account's data centre: <dc>.api.mailchimp.com (app.py routes any dc).
MAILCHIMP_HOST_SUFFIX = ".api.mailchimp.com"
# On loopback every platform lives under a path prefix of one server.
LOOPBACK_PREFIXES: dict[str, str] = {
    "meta": "/meta",
    "google_ads": "/google-ads",
    "hubspot": "/hubspot",
    "linkedin": "/linkedin",
    "tiktok": "/tiktok",
    "mailchimp": "/mailchimp",
    "social": "/social",
}
META_API_VERSION = "v21.0"
GOOGLE_ADS_API_VERSION = "v18"
LINKEDIN_API_VERSION = "202409"  # the `LinkedIn-Version` header (YYYYMM); the path has no version
TIKTOK_API_VERSION = "v1.3"
BASE_URLS: dict[str, str] = {
    "meta": f"https://graph.facebook.com/{META_API_VERSION}",
    "google_ads": f"https://googleads.googleapis.com/{GOOGLE_ADS_API_VERSION}",
    "hubspot": "https://api.hubapi.com",
    "linkedin": "https://api.linkedin.com/rest",
    "tiktok": f"https://business-api.tiktok.com/open_api/{TIKTOK_API_VERSION}",
    "mailchimp": "https://us21.api.mailchimp.com/3.0",
    "social": "https://api.social.sandbox/v1",
}
_LOOPBACK_VERSIONED = {
    "meta": f"/{META_API_VERSION}",
    "google_ads": f"/{GOOGLE_ADS_API_VERSION}",
    "hubspot": "",
    "linkedin": "/rest",
    "tiktok": f"/open_api/{TIKTOK_API_VERSION}",
    "mailchimp": "/3.0",
    "social": "/v1",
}

# Token `sandbox-<tenant_id>` confines a caller to that tenant (and picks the HubSpot portal).
TOKEN_PREFIX = "sandbox-"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"


def sandbox_token(tenant_id: str) -> str:
    """The access token that selects `tenant_id` on every fake platform (HubSpot requires it)."""
    return f"{TOKEN_PREFIX}{tenant_id}"


def loopback_base_urls(host: str, port: int) -> dict[str, str]:
    """Base URLs a connector uses against `serve(...)` (same paths as `BASE_URLS`, under a prefix)."""
    return {
        platform: f"http://{host}:{port}{LOOPBACK_PREFIXES[platform]}{_LOOPBACK_VERSIONED[platform]}"
        for platform in PLATFORMS
    }


@dataclass(frozen=True)
class SandboxLimits:
    """Every platform limit the fake APIs enforce, in one place (PLATFORMS.md: limits live in config)."""

    meta_default_limit: int = 25
    meta_max_limit: int = 500
    meta_min_daily_budget_minor: int = 100  # 1.00 in the account currency
    meta_async_polls: int = 0  # polls answered "Job Running" before an async report completes
    meta_async_failures: int = 0  # the first N async report jobs end "Job Failed" (a retry succeeds)
    # A sync insights call over more rows than this answers code 1 / subcode 1487534 ("Please reduce
    # the amount of data you're asking for"): use an async report.
    meta_sync_max_rows: int = 100_000
    # Platforms restate recent days as attribution windows mature (see `maturity`): days restated.
    meta_restatement_days: int = 28
    google_restatement_days: int = 7
    # LinkedIn and TikTok restate too (conversions attributed late); 7 days, the ingest look-back they get.
    linkedin_restatement_days: int = 7
    tiktok_restatement_days: int = 7
    google_batch_size: int = 10_000  # searchStream results per batch
    google_page_size: int = 10_000  # googleAds:search page size (fixed, as in v17+)
    hubspot_list_max_limit: int = 100
    hubspot_search_max_limit: int = 200
    hubspot_search_window: int = 10_000  # `after` may not reach this many results
    hubspot_rate_max: int = 190  # requests per interval, reported in X-HubSpot-RateLimit-Max
    hubspot_rate_interval_ms: int = 10_000
    hubspot_daily: int = 500_000
    hubspot_batch_max: int = 1_000  # inputs per v4 association batch read
    # LinkedIn: adAnalytics has no paging and silently cuts its answer at this many elements.
    linkedin_analytics_max_elements: int = 15_000
    linkedin_analytics_max_fields: int = 20
    linkedin_page_size_default: int = 100  # search finders (cursor paging: pageSize / pageToken)
    linkedin_page_size_max: int = 1_000
    linkedin_min_daily_budget: str = "10.00"  # account currency
    tiktok_page_size_default: int = 10
    tiktok_page_size_max: int = 1_000
    tiktok_report_max_days: int = 30  # a stat_time_day report spans at most this many days
    tiktok_min_daily_budget: str = "20.00"  # ad group daily budget, account currency
    mailchimp_max_count: int = 1_000  # reports per page (`count`)
    # Mailchimp allows 10 simultaneous connections per API key (429 beyond): the sandbox serves one
    # request at a time, so it only reports the limit; a connector must not open more.
    mailchimp_max_connections: int = 10
    social_default_limit: int = 25
    social_max_limit: int = 100


class ApiError(Exception):
    """Raised inside a platform handler; the handler turns it into that platform's error body."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


@dataclass
class Call:
    """One request as the platform handlers see it: platform, path below the prefix, parsed params."""

    request: httpx.Request
    platform: str
    base: str  # scheme://host[/prefix], to build absolute paging links on the host that was called
    path: str  # path below the loopback prefix, e.g. "/v21.0/act_1/insights"
    params: list[tuple[str, str]]
    body: bytes
    tenant_scope: str | None = None  # set by authentication: the tenant a sandbox token is confined to
    token: str | None = None
    _json: Any = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def query(self) -> dict[str, str]:
        return dict(self.params)

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def query_all(self, name: str) -> list[str]:
        return [v for k, v in self.params if k == name]

    def json_body(self) -> Any:
        if self._json is None and self.body:
            try:
                self._json = json.loads(self.body)
            except ValueError as exc:
                raise ApiError(400, f"request body is not valid JSON: {exc}") from exc
        return self._json

    def form(self) -> dict[str, str]:
        """Write parameters from the query string, then a form or JSON body (Graph API accepts all)."""
        out = dict(self.params)
        if not self.body:
            return out
        ctype = (self.header("content-type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            raw = self.json_body()
            if not isinstance(raw, dict):
                raise ApiError(400, "JSON body must be an object")
            out.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()})
        else:
            out.update(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        return out

    def fingerprint(self) -> str:
        """What makes two requests 'the same' for idempotency (the token is left out)."""
        form = sorted((k, v) for k, v in self.form().items() if k != "access_token")
        if (self.header("content-type") or "").startswith("application/json"):
            form = [("__json__", json.dumps(self.json_body(), sort_keys=True))]
        raw = json.dumps([self.method, self.platform, self.path, form])
        return hashlib.sha256(raw.encode()).hexdigest()

    def request_id(self, salt: str = "") -> str:
        """A deterministic request id (same request -> same id, in-process and on loopback alike)."""
        raw = f"{salt}|{self.method}|{self.path}|{sorted(self.params)}|".encode() + self.body
        return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:16]).decode().rstrip("=")

    def url_with(self, **changes: str | None) -> str:
        """This call's absolute URL with some query parameters replaced (None drops one)."""
        params = [(k, v) for k, v in self.params if k not in changes]
        params += [(k, v) for k, v in changes.items() if v is not None]
        return f"{self.base}{self.path}?{urlencode(params)}"


def json_response(
    status: int,
    payload: Any,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json; charset=UTF-8",
    *,
    fast: bool = False,
) -> httpx.Response:
    """A JSON response. The body is `json.dumps(payload, separators=(",", ":"), ensure_ascii=False)` in
    UTF-8 (or `payload` itself when it is already `JsonBytes`); `fast=True`: see `dumps_json`."""
    body = payload if isinstance(payload, JsonBytes) else dumps_json(payload, fast=fast)
    return httpx.Response(status, headers={"content-type": content_type, **(headers or {})}, content=body)


class JsonBytes(bytes):
    """A payload already encoded (by `dumps_json`): `json_response` sends it as it is."""


# orjson hands anything but plain str/int/float/bool/None/list/dict to json (which then decides).
_ORJSON_OPTIONS = (
    _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_SUBCLASS | _orjson.OPT_PASSTHROUGH_DATACLASS
    if _orjson is not None
    else 0
)


def dumps_json(payload: Any, *, fast: bool = False) -> bytes:
    """`json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()`: the sandbox's wire format.

    `fast=True` lets orjson (when installed) write it, several times faster and byte for byte the same
    for strings, ints, bools, None, lists and dicts with str keys (anything else falls back to json). Only
    floats may print differently (1e-05 vs 0.00001, NaN vs null), so a caller passes `fast=True` only for
    a payload without bare floats: none at all, or each wrapped with `json_float`.
    """
    if fast and _orjson is not None:
        try:
            return _orjson.dumps(payload, option=_ORJSON_OPTIONS)
        except TypeError:  # a big int, a str subclass, a date, ...: json's rules apply
            if _has_fragment(payload):
                raise
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_float(value: float) -> Any:
    """A float for a `fast=True` payload, printed exactly as json.dumps prints it (`float.__repr__`,
    NaN, Infinity). Only for payloads given to `dumps_json(..., fast=True)`: json cannot encode it."""
    if _orjson is None:
        return value
    if value != value:
        text = "NaN"
    elif value in (math.inf, -math.inf):
        text = "Infinity" if value > 0 else "-Infinity"
    else:
        text = float.__repr__(value)
    return _orjson.Fragment(text.encode("ascii"))


def _has_fragment(payload: Any) -> bool:
    if _orjson is not None and isinstance(payload, _orjson.Fragment):
        return True
    if isinstance(payload, dict):
        return any(_has_fragment(v) for v in payload.values())
    if isinstance(payload, list | tuple):
        return any(_has_fragment(v) for v in payload)
    return False


# ---- cursors -------------------------------------------------------------------------------------


def encode_cursor(offset: int, tag: str = "sbx") -> str:
    return base64.urlsafe_b64encode(f"{tag}:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str = "sbx") -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        prefix, _, offset = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if prefix != tag:
            raise ValueError(prefix)
        value = int(offset)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"invalid paging cursor {cursor!r}") from exc
    if value < 0:
        raise ApiError(400, f"invalid paging cursor {cursor!r}")
    return value


# ---- formatting ----------------------------------------------------------------------------------

_CENT = Decimal("0.01")
# ISO 4217 minor-unit exponents for the currencies the sandbox uses (default 2).
MINOR_UNIT_EXPONENT: dict[str, int] = {"JPY": 0, "KRW": 0, "CLP": 0, "HUF": 2}


def micros_to_str(micros: int, places: int = 2) -> str:
    """Exact decimal string of an amount in micros, e.g. 53_390_000 -> "53.39"."""
    if places == 2 and type(micros) is int and 0 <= micros < 10**18:
        # The Decimal computation below in integer arithmetic (ROUND_HALF_UP to cents): same string.
        cents = (micros + 5_000) // 10_000
        return f"{cents // 100}.{cents % 100:02d}"
    quantum = Decimal(1).scaleb(-places)
    return str((Decimal(int(micros)) / Decimal(1_000_000)).quantize(quantum, rounding=ROUND_HALF_UP))


def money_str(value: float) -> str:
    """A float amount with two decimals, e.g. 80.5 -> "80.50" (the world keeps values at 2 dp)."""
    return str(Decimal(repr(float(value))).quantize(_CENT, rounding=ROUND_HALF_UP))


def count_str(value: float) -> str:
    """A count as platforms send it: "3" for integral values, else the shortest float text."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(round(value, 6))


def to_minor_units(amount: float, currency: str) -> int:
    exponent = MINOR_UNIT_EXPONENT.get(currency.upper(), 2)
    return int((Decimal(repr(float(amount))) * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor_units(minor: int, currency: str) -> float:
    return float(Decimal(int(minor)).scaleb(-MINOR_UNIT_EXPONENT.get(currency.upper(), 2)))


def maturity(age_days: pl.Expr, window: int) -> pl.Expr:
    """Share of a day's final platform conversions reported `age_days` after it: attribution windows
    mature, so platforms restate recent days. 0.55 + 0.45 x (age + 1) / window, reaching 1.0 at
    `window - 1` days and staying there (1.0 everywhere when window <= 0)."""
    if window <= 0:
        return pl.lit(1.0)
    age = age_days.cast(pl.Float64).clip(lower_bound=0.0)
    return pl.min_horizontal(pl.lit(1.0), 0.55 + 0.45 * (age + 1.0) / window)


def restate_whole(rows: pl.DataFrame, as_of: date, window: int) -> pl.DataFrame:
    """Delivery rows with the conversions a platform reports on `as_of`: whole conversions
    (final x `maturity`, floored), their value at the day's average value per conversion (LinkedIn,
    TikTok; Meta does the same inline). Unchanged when `window` <= 0."""
    if window <= 0:
        return rows
    final = pl.col("platform_conversions")
    share = maturity((pl.lit(as_of) - pl.col("date")).dt.total_days(), window)
    served = (final * share + 1e-9).floor()
    return rows.with_columns(
        platform_conversions=served,
        platform_conversion_value=pl.when(final > 0)
        .then((pl.col("platform_conversion_value") * served / final).round(2))
        .otherwise(pl.col("platform_conversion_value")),
    )


def as_utc_naive(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A Date/Datetime column as a naive UTC datetime (the world stores UTC, tz-aware or not)."""
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone:
            return expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return expr
    if dtype == pl.Date:
        return expr.cast(pl.Datetime("us"))
    if dtype == pl.String:
        return expr.str.to_datetime(time_zone="UTC").dt.replace_time_zone(None)
    raise TypeError(f"not a date/datetime column: {dtype}")


def iso_ms_z(expr: pl.Expr) -> pl.Expr:
    """Naive UTC datetime -> '2026-01-31T12:34:56.789Z' (HubSpot's timestamp format)."""
    return expr.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"{what} must be a date YYYY-MM-DD, got {value!r}") from exc


def parse_instant_ms(value: Any) -> int:
    """A HubSpot filter value for a date property: ms since epoch (number or string) or ISO 8601."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:  # a naive timestamp is read as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


# ---- a small cache of derived frames -------------------------------------------------------------


class FrameCache:
    """LRU of values derived from world frames, invalidated when any source frame is replaced.

    Frames are immutable; the state layer swaps a table for a new frame when it changes, so the
    identity of the source frames is a sound cache key (the entry keeps them alive, so ids stay unique).
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._entries: OrderedDict[Any, tuple[tuple[Any, ...], Any]] = OrderedDict()

    def get(self, key: Any, sources: Sequence[Any], build: Callable[[], Any]) -> Any:
        hit = self._entries.get(key)
        if (
            hit is not None
            and len(hit[0]) == len(sources)
            and all(a is b for a, b in zip(hit[0], sources, strict=True))
        ):
            self._entries.move_to_end(key)
            return hit[1]
        value = build()
        self._entries[key] = (tuple(sources), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value
