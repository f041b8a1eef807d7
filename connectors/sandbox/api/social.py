"""Fake social-listening API (organic posts, brand mentions, influencer profiles) served from the world.

PLATFORMS.md has no entry for it, so this docstring is its reference. It is modelled on the Graph API:
`https://api.social.sandbox/v1` (loopback `/social/v1`), JSON bodies, cursor paging, Graph error bodies.

Auth: `Authorization: Bearer <token>` or `?access_token=<token>`. The token selects a brand workspace:
`sandbox-<tenant_id>`. Missing -> HTTP 400 code 104; unknown -> HTTP 401 code 190.

Routes (all GET; `limit` default 25, max `SandboxLimits.social_max_limit`; `after` = a cursor):
  /v1/accounts                    the brand's own accounts: {id, platform, username, name}
  /v1/accounts/{id}/posts         the account's posts, oldest first; `since`/`until` (unix seconds or ISO
                                  8601; since inclusive, until exclusive) filter on created_time:
      {id, platform, account_id, created_time, type (image|video|carousel|text), message,
       permalink_url, metrics: {reach, impressions, likes, comments, shares, saves, link_clicks}}
      metrics are lifetime totals as of today and keep growing for a few days after a post.
  /v1/mentions?q=<keyword>        public posts mentioning the brand whose text contains the keyword
                                  (case and spaces ignored), oldest first; `since`/`until`, `platform`:
      {id, platform, created_time, author: {username, followers_count}, text, permalink_url,
       like_count, repost_count, lang}
  /v1/influencers                 creator profiles matched to the brand; `platform`, `min_followers`:
      {id, platform, username, name, followers_count, engagement_rate, avg_reach, category, country}

Counts are JSON integers, `engagement_rate` a float share of followers, times '2026-03-05T15:00:00+0000'.

Paging: every list answers `{"data": [...], "paging": {"cursors": {"before": "...", "after": "..."},
"next": "<absolute url>"}}`; `next` is absent on the last page (an empty `data` has no cursors). Stop on
the absence of `next`, never on a short page.

Errors: `{"error": {"message", "type": "OAuthException", "code", "fbtrace_id"[, "is_transient"]}}`.
Throttling: HTTP 429 code 4 ("Application request limit reached", with Retry-After), or HTTP 400 with
code 32 / 613 / 17 and an `x-app-usage` header at 100%: both are transient, retry after a wait.
Server errors: 500 code 1 / 503 code 2, `is_transient: true`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl

from connectors.sandbox.api.common import (
    ApiError,
    Call,
    decode_cursor,
    encode_cursor,
    json_response,
    parse_instant_ms,
)
from connectors.sandbox.api.faults import RowFaultTarget
from connectors.sandbox.api.owned_world import owned_table
from connectors.sandbox.owned import SOCIAL_PLATFORMS, social_account_ids
from connectors.sandbox.presets import TENANTS

if TYPE_CHECKING:
    from connectors.sandbox.api.app import SandboxAPI
    from connectors.sandbox.api.faults import Fault

CURSOR_TAG = "sm"
_POSTS = re.compile(r"^/v1/accounts/(?P<id>[^/]+)/posts/?$")
_THROTTLES = (
    (32, "(#32) Page request limit reached"),
    (613, "(#613) Calls to this api have exceeded the rate limit."),
    (17, "(#17) User request limit reached"),
)


class SocialError(ApiError):
    def __init__(self, status: int, message: str, code: int = 100) -> None:
        super().__init__(status, message, code=code)


def error_body(message: str, code: int, trace: str, *, is_transient: bool | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": trace}
    if is_transient is not None:
        error["is_transient"] = is_transient
    return {"error": error}


class SocialAPI:
    platform = "social"

    def __init__(self, app: SandboxAPI) -> None:
        self.app = app
        self.access = app.access
        self.limits = app.limits

    # ---- protocol used by SandboxAPI -------------------------------------------------------------
    def authenticate(self, call: Call) -> httpx.Response | None:
        auth = call.header("authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else call.query.get("access_token", "")
        if not token:
            return self.error(
                call, SocialError(400, "An access token is required to request this resource.", 104)
            )
        tenant = token[len("sandbox-") :] if token.startswith("sandbox-") else None
        if tenant not in self.access.tenant_ids():
            return self.error(
                call, SocialError(401, "Invalid OAuth access token - Cannot parse access token", 190)
            )
        call.token, call.tenant_scope = token, tenant
        return None

    def is_write(self, call: Call) -> bool:
        return False

    def fault_rows(self, call: Call) -> RowFaultTarget | None:
        """Body faults act on `data` of the posts, mentions and influencer listings (cursor paging)."""
        if call.method != "GET":
            return None
        path = call.path.rstrip("/")
        stream = f"social:{call.tenant_scope}:{path}:{call.query.get('q', '')}"
        if _POSTS.match(call.path) is not None:
            metrics = ("reach", "impressions", "likes", "comments", "shares", "saves", "link_clicks")
            return RowFaultTarget(
                rows=("data",),
                required=(("id",), ("created_time",), ("metrics", "reach"), ("metrics", "impressions")),
                numeric=tuple(("metrics", m) for m in metrics),
                new_field=(("metrics", "video_views"), 0),
                stream=stream,
            )
        if path == "/v1/mentions":
            return RowFaultTarget(
                rows=("data",),
                required=(("id",), ("created_time",), ("like_count",)),
                numeric=(("like_count",), ("repost_count",), ("author", "followers_count")),
                new_field=(("sentiment",), "neutral"),
                stream=stream,
            )
        if path == "/v1/influencers":
            return RowFaultTarget(
                rows=("data",),
                required=(("id",), ("followers_count",)),
                numeric=(("followers_count",), ("engagement_rate",), ("avg_reach",)),
                new_field=(("verified",), False),
                stream=stream,
            )
        return None

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response:
        trace = call.request_id("fbtrace")[:11]
        if fault.kind == "429":
            body = error_body("(#4) Application request limit reached", 4, trace, is_transient=True)
            return json_response(429, body, {"retry-after": str(retry_after)})
        code, message = _THROTTLES[fault.variant % len(_THROTTLES)]
        usage = {"call_count": 100, "total_cputime": 30, "total_time": 41}
        return json_response(
            400, error_body(message, code, trace, is_transient=True), {"x-app-usage": json.dumps(usage)}
        )

    def server_error(self, status: int, call: Call) -> httpx.Response:
        trace = call.request_id("fbtrace")[:11]
        if status == 503:
            return json_response(
                status, error_body("(#2) Service temporarily unavailable", 2, trace, is_transient=True)
            )
        return json_response(
            status, error_body("An unknown error has occurred.", 1, trace, is_transient=True)
        )

    def error(self, call: Call, exc: ApiError) -> httpx.Response:
        body = error_body(exc.message, int(exc.details.get("code", 100)), call.request_id("fbtrace")[:11])
        return json_response(exc.status, body)

    def handle(self, call: Call) -> httpx.Response:
        try:
            payload = self._route(call)
        except ApiError as exc:
            return self.error(call, exc)
        return json_response(200, payload)

    # ---- routing ---------------------------------------------------------------------------------
    def _route(self, call: Call) -> dict[str, Any]:
        if call.method != "GET":
            raise SocialError(400, f"Unsupported {call.method} request on {call.path}", 100)
        tenant = call.tenant_scope or ""
        path = call.path.rstrip("/")
        if path == "/v1/accounts":
            return self._page(call, self._accounts(tenant), _render_accounts)
        match = _POSTS.match(call.path)
        if match is not None:
            posts = self._frame("social_posts", tenant).filter(pl.col("account_id") == match["id"])
            if match["id"] not in set(self._accounts(tenant)["id"].to_list()):
                raise SocialError(
                    404, f"Unsupported get request. Object with ID '{match['id']}' does not exist", 100
                )
            return self._page(call, _window(call, posts), _render_posts)
        if path == "/v1/mentions":
            q = (call.query.get("q") or "").strip()
            if not q:
                raise SocialError(400, "(#100) The parameter q is required", 100)
            needle = re.sub(r"\s+", "", q.lower())
            mentions = self._frame("social_mentions", tenant)
            # Every page of one listing runs the same query: match the text once, not once per page.
            query = (needle, call.query.get("platform"), call.query.get("since"), call.query.get("until"))
            matched = self.access.cache.get(
                ("social_query", tenant, query),
                [mentions],
                lambda: _window(
                    call,
                    _platform(call, mentions.filter(pl.col("_search").str.contains(needle, literal=True))),
                ),
            )
            return self._page(call, matched, _render_mentions)
        if path == "/v1/influencers":
            frame = _platform(call, self._frame("influencers", tenant))
            if call.query.get("min_followers"):
                frame = frame.filter(
                    pl.col("followers") >= _int(call.query["min_followers"], "min_followers")
                )
            return self._page(call, frame, _render_influencers)
        raise SocialError(404, f"Unknown path components: {call.path}", 2500)

    def _frame(self, name: str, tenant: str) -> pl.DataFrame:
        source = owned_table(self.access, name)
        return self.access.cache.get(
            ("social", name, tenant), [source], lambda: _tenant_frame(name, source, tenant)
        )

    def _accounts(self, tenant: str) -> pl.DataFrame:
        posts = self._frame("social_posts", tenant)
        row = self.access.tenant(tenant) or {}
        known = posts.select("platform", "account_id").unique()
        ids = dict(zip(known["platform"].to_list(), known["account_id"].to_list(), strict=True))
        if not ids and row:  # a brand that has not posted yet still has its accounts
            num = (
                next(i for i, t in enumerate(TENANTS, start=1) if t.tenant_id == tenant)
                if tenant in {t.tenant_id for t in TENANTS}
                else 0
            )
            ids = social_account_ids(tenant, num) if num else {}
        handle = "".join(ch for ch in str(row.get("name", tenant)).lower() if ch.isalnum())
        return pl.DataFrame(
            {
                "id": [ids[p] for p in SOCIAL_PLATFORMS if p in ids],
                "platform": [p for p in SOCIAL_PLATFORMS if p in ids],
                "username": handle,
                "name": str(row.get("name", tenant)),
            },
            schema={"id": pl.String, "platform": pl.String, "username": pl.String, "name": pl.String},
        )

    def _page(self, call: Call, frame: pl.DataFrame, render: Any) -> dict[str, Any]:
        limit = _int(call.query.get("limit", str(self.limits.social_default_limit)), "limit")
        if not 1 <= limit <= self.limits.social_max_limit:
            raise SocialError(400, f"(#100) limit must be between 1 and {self.limits.social_max_limit}", 100)
        start = decode_cursor(call.query["after"], CURSOR_TAG) if call.query.get("after") else 0
        page = frame.slice(start, limit)
        out: dict[str, Any] = {"data": render(page)}
        if page.height:
            after = encode_cursor(start + page.height, CURSOR_TAG)
            paging: dict[str, Any] = {"cursors": {"before": encode_cursor(start, CURSOR_TAG), "after": after}}
            if start + page.height < frame.height:
                paging["next"] = call.url_with(after=after, access_token=None)
            out["paging"] = paging
        return out


# ---- frames and rendering -------------------------------------------------------------------------


def _tenant_frame(name: str, source: pl.DataFrame, tenant: str) -> pl.DataFrame:
    rows = source.filter(pl.col("tenant_id") == tenant)
    if name == "influencers":
        return rows.sort("influencer_id")
    created = rows["created_at"].dt.truncate("1s")
    rows = rows.with_columns(
        created_at=created,
        _ms=created.dt.epoch("ms"),
        _time=created.dt.strftime("%Y-%m-%dT%H:%M:%S+0000"),
    )
    if name == "social_mentions":
        rows = rows.with_columns(_search=pl.col("text").str.to_lowercase().str.replace_all(r"\s+", ""))
        return rows.sort(["_ms", "mention_id"])
    return rows.sort(["_ms", "post_id"])


def _window(call: Call, frame: pl.DataFrame) -> pl.DataFrame:
    for name in ("since", "until"):
        raw = call.query.get(name)
        if not raw:
            continue
        try:
            instant = (
                int(raw) * 1000 if raw.strip().isdigit() and len(raw.strip()) <= 11 else parse_instant_ms(raw)
            )
        except (TypeError, ValueError):
            raise SocialError(
                400, f"(#100) {name} must be a unix time or an ISO 8601 time, got {raw!r}"
            ) from None
        frame = frame.filter(pl.col("_ms") >= instant if name == "since" else pl.col("_ms") < instant)
    return frame


def _platform(call: Call, frame: pl.DataFrame) -> pl.DataFrame:
    wanted = call.query.get("platform")
    if not wanted:
        return frame
    if wanted not in SOCIAL_PLATFORMS:
        raise SocialError(400, f"(#100) platform must be one of {', '.join(SOCIAL_PLATFORMS)}", 100)
    return frame.filter(pl.col("platform") == wanted)


def _columns(page: pl.DataFrame, names: tuple[str, ...]) -> list[list[Any]]:
    return [page[c].to_list() for c in names]


def _render_accounts(page: pl.DataFrame) -> list[dict[str, Any]]:
    return page.to_dicts()


def _render_posts(page: pl.DataFrame) -> list[dict[str, Any]]:
    metrics = ("reach", "impressions", "likes", "comments", "shares", "saves", "link_clicks")
    ids, platform, account, time, kind, message, link = _columns(
        page, ("post_id", "platform", "account_id", "_time", "post_type", "message", "permalink")
    )
    values = _columns(page, metrics)
    return [
        {
            "id": ids[i],
            "platform": platform[i],
            "account_id": account[i],
            "created_time": time[i],
            "type": kind[i],
            "message": message[i],
            "permalink_url": link[i],
            "metrics": {m: column[i] for m, column in zip(metrics, values, strict=True)},
        }
        for i in range(page.height)
    ]


def _render_mentions(page: pl.DataFrame) -> list[dict[str, Any]]:
    cols = ("mention_id", "platform", "_time", "author_handle", "author_followers", "text", "url", "likes",
            "reposts", "language")  # fmt: skip
    ids, platform, time, handle, followers, text, url, likes, reposts, lang = _columns(page, cols)
    return [
        {
            "id": ids[i],
            "platform": platform[i],
            "created_time": time[i],
            "author": {"username": handle[i], "followers_count": followers[i]},
            "text": text[i],
            "permalink_url": url[i],
            "like_count": likes[i],
            "repost_count": reposts[i],
            "lang": lang[i],
        }
        for i in range(page.height)
    ]


def _render_influencers(page: pl.DataFrame) -> list[dict[str, Any]]:
    cols = ("influencer_id", "platform", "handle", "display_name", "followers", "engagement_rate", "avg_reach",
            "category", "country")  # fmt: skip
    ids, platform, handle, name, followers, rate, reach, category, country = _columns(page, cols)
    return [
        {
            "id": ids[i],
            "platform": platform[i],
            "username": handle[i],
            "name": name[i],
            "followers_count": followers[i],
            "engagement_rate": rate[i],
            "avg_reach": reach[i],
            "category": category[i],
            "country": country[i],
        }
        for i in range(page.height)
    ]


def _int(raw: str, name: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SocialError(400, f"(#100) {name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise SocialError(400, f"(#100) {name} must not be negative")
    return value
