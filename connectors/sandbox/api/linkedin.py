"""Fake LinkedIn Marketing API (versioned `/rest` API) served from the sandbox world.

World mapping (INTERFACES.md §7.1): world campaign = campaign group, world ad group = LinkedIn campaign
(owns status and daily budget), world ad = creative.

Every call needs `Authorization: Bearer <token>` and `LinkedIn-Version: YYYYMM`; finders with Rest.li
values (`List(...)`, `(key:value)`) need `X-Restli-Protocol-Version: 2.0.0`. Routes (below `/rest`):

  GET  /adAnalytics?q=analytics&pivot=CREATIVE&timeGranularity=DAILY&dateRange=(...)&accounts=List(...)
       &fields=...                    no paging: at most `linkedin_analytics_max_elements`, cut silently
  GET  /adAccounts/{a}                  the ad account (currency)
  GET  /adAccounts/{a}/adCampaignGroups?q=search[&search=(...)]&pageSize=&pageToken=
  GET  /adAccounts/{a}/adCampaigns?q=search[&search=(...)]&pageSize=&pageToken=
  GET  /adAccounts/{a}/creatives?q=criteria[&campaigns=List(...)]&pageSize=&pageToken=
  GET  /adAccounts/{a}/adCampaigns/{id} | adCampaignGroups/{id} | creatives/{urn}
  POST (X-RestLi-Method: PARTIAL_UPDATE) /adAccounts/{a}/adCampaigns/{id} (also /adCampaigns/{id}),
       /adAccounts/{a}/adCampaignGroups/{id}, /adAccounts/{a}/creatives/{urn}:
       {"patch": {"$set": {"status": "PAUSED"}}}, {"patch": {"$set": {"dailyBudget": {"amount": "50.00",
       "currencyCode": "USD"}}}}, creatives {"patch": {"$set": {"intendedStatus": "PAUSED"}}} -> 204

Errors are Rest.li bodies `{"status", "code", "message"[, "serviceErrorCode"]}`. Limits are daily and
answered with 429 without usage headers (the caller paces from its own counters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx
import polars as pl

from connectors.sandbox.api.access import Account, Entity
from connectors.sandbox.api.common import (
    ApiError,
    Call,
    decode_cursor,
    encode_cursor,
    json_response,
    micros_to_str,
    money_str,
    restate_whole,
)
from connectors.sandbox.api.faults import RowFaultTarget
from connectors.sandbox.api.restli import RestliSyntaxError, decode

if TYPE_CHECKING:
    from connectors.sandbox.api.app import SandboxAPI
    from connectors.sandbox.api.faults import Fault

PLATFORM = "linkedin"
ACCOUNT_URN = "urn:li:sponsoredAccount:"
GROUP_URN = "urn:li:sponsoredCampaignGroup:"
CAMPAIGN_URN = "urn:li:sponsoredCampaign:"
CREATIVE_URN = "urn:li:sponsoredCreative:"
ANALYTICS_FIELDS = frozenset(
    {
        "costInLocalCurrency",
        "impressions",
        "clicks",
        "externalWebsiteConversions",
        "conversionValueInLocalCurrency",
        "landingPageClicks",
        "dateRange",
        "pivotValues",
    }
)
_PIVOTS = {
    "CREATIVE": "ad_id",
    "CAMPAIGN": "ad_group_id",
    "CAMPAIGN_GROUP": "campaign_id",
    "ACCOUNT": "account_id",
}
_PIVOT_URN = {
    "CREATIVE": CREATIVE_URN,
    "CAMPAIGN": CAMPAIGN_URN,
    "CAMPAIGN_GROUP": GROUP_URN,
    "ACCOUNT": ACCOUNT_URN,
}
_GRANULARITIES = ("DAILY", "ALL")
# Analytics fields a connector cannot do without (drift_missing_column) and the numeric ones (text faults).
_ANALYTICS_REQUIRED = ("dateRange", "pivotValues", "costInLocalCurrency", "impressions", "clicks")
_ANALYTICS_NUMERIC = (
    "costInLocalCurrency",
    "impressions",
    "clicks",
    "externalWebsiteConversions",
    "conversionValueInLocalCurrency",
    "landingPageClicks",
)
# Entity finders: (fields a connector cannot do without, numeric fields, the field drift adds).
_ENTITY_FAULTS: dict[
    str, tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...], tuple[tuple[str, ...], Any]]
] = {
    "adCampaignGroups": ((("id",), ("status",)), (), (("totalBudget",), None)),
    "adCampaigns": (
        (("id",), ("campaignGroup",), ("status",)),
        (("dailyBudget", "amount"),),
        (("unitCost",), {"amount": "4.20", "currencyCode": "USD"}),
    ),
    "creatives": (
        (("id",), ("campaign",), ("intendedStatus",)),
        (("createdAt",),),
        (("servingHoldReasons",), []),
    ),
}
_WRITE_STATUSES = ("ACTIVE", "PAUSED")
_THROTTLES = (
    "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
    "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
    "Too many requests. Please retry later.",
)
_COLLECTIONS = {"adCampaignGroups": "campaign", "adCampaigns": "ad_group", "creatives": "ad"}
_ACCOUNT_PATH = re.compile(r"^/rest/adAccounts/(?P<account>[^/]+)/(?P<collection>\w+)(?:/(?P<key>[^/]+))?/?$")
_ACCOUNT_NODE = re.compile(r"^/rest/adAccounts/(?P<account>[^/]+)/?$")
_LEGACY_CAMPAIGN = re.compile(r"^/rest/adCampaigns/(?P<key>\d+)/?$")


class LinkedInError(ApiError):
    def __init__(self, status: int, code: str, message: str, service_error_code: int | None = None) -> None:
        super().__init__(status, message, code=code, service_error_code=service_error_code)


def linkedin_error_body(status: int, code: str | None, message: str, service_error_code: int | None) -> dict:
    body: dict[str, Any] = {"status": status}
    if service_error_code is not None:
        body["serviceErrorCode"] = service_error_code
    if code is not None:
        body["code"] = code
    body["message"] = message
    return body


@dataclass(frozen=True)
class AnalyticsQuery:
    pivot: str
    granularity: str
    since: date
    until: date
    accounts: tuple[str, ...]
    campaigns: tuple[str, ...]  # LinkedIn campaign ids (world ad groups), empty = all
    fields: tuple[str, ...]


class LinkedInAPI:
    platform = PLATFORM

    def __init__(self, app: SandboxAPI) -> None:
        self.app = app
        self.access = app.access
        self.limits = app.limits

    # ---- protocol used by SandboxAPI -------------------------------------------------------------
    def authenticate(self, call: Call) -> httpx.Response | None:
        auth = call.header("authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            return self.error(call, _invalid_token())
        call.token = token
        if token.startswith("sandbox-"):
            tenant = token[len("sandbox-") :]
            if tenant not in self.access.tenant_ids():
                return self.error(call, _invalid_token())
            call.tenant_scope = tenant
        version = call.header("linkedin-version") or ""
        if not version:
            return self.error(
                call,
                LinkedInError(
                    400,
                    "VERSION_MISSING",
                    "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                ),
            )
        if not re.fullmatch(r"\d{6}(\.\d{2})?", version):
            return self.error(
                call, LinkedInError(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
            )
        return None

    def is_write(self, call: Call) -> bool:
        return call.method == "POST"

    def fault_rows(self, call: Call) -> RowFaultTarget | None:
        """Body faults act on `elements` of adAnalytics answers and of the entity finders (campaign
        groups, campaigns, creatives: one stream per account and collection, so "duplicate" repeats
        the previous page's elements)."""
        if call.method != "GET":
            return None
        scope = call.tenant_scope
        match = _ACCOUNT_PATH.match(call.path)
        if match is not None and match["key"] is None and match["collection"] in _ENTITY_FAULTS:
            required, numeric, new_field = _ENTITY_FAULTS[match["collection"]]
            return RowFaultTarget(
                rows=("elements",),
                required=required,
                numeric=numeric,
                new_field=new_field,
                stream=f"linkedin:{scope}:{unquote(match['account'])}:{match['collection']}",
            )
        if call.path.rstrip("/") == "/rest/adAnalytics":
            params = self._params(call)
            asked = set(unquote(params.get("fields", "")).split(","))
            return RowFaultTarget(
                rows=("elements",),
                required=tuple((f,) for f in _ANALYTICS_REQUIRED if f in asked),
                numeric=tuple((f,) for f in _ANALYTICS_NUMERIC if f in asked),
                new_field=(("approximateMemberReach",), 1234),
                stream=f"linkedin:{scope}:adAnalytics:{unquote(params.get('accounts', ''))}",
            )
        return None

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response:
        message = _THROTTLES[fault.variant % len(_THROTTLES)] if fault.kind == "throttle" else _THROTTLES[0]
        # LinkedIn's daily limits come back as a bare 429: no Retry-After, no usage headers.
        return json_response(
            429, linkedin_error_body(429, "TOO_MANY_REQUESTS", message, 101), self._headers(call)
        )

    def server_error(self, status: int, call: Call) -> httpx.Response:
        message = "Service Unavailable" if status == 503 else "Internal Server Error"
        return json_response(status, linkedin_error_body(status, None, message, None), self._headers(call))

    def error(self, call: Call, exc: ApiError) -> httpx.Response:
        code = exc.details.get("code") or {
            400: "ILLEGAL_ARGUMENT",
            404: "NOT_FOUND",
            422: "UNPROCESSABLE_ENTITY",
        }.get(exc.status)
        body = linkedin_error_body(exc.status, code, exc.message, exc.details.get("service_error_code"))
        if exc.details.get("input_errors"):
            body["errorDetailType"] = "com.linkedin.common.error.BadRequest"
            body["errorDetails"] = {"inputErrors": exc.details["input_errors"]}
        return json_response(exc.status, body, self._headers(call))

    def handle(self, call: Call) -> httpx.Response:
        try:
            if call.method == "POST":
                self._write(call)
                return httpx.Response(204, headers=self._headers(call))
            return json_response(200, self._read(call), self._headers(call), fast=True)
        except RestliSyntaxError as exc:
            return self.error(call, LinkedInError(400, "ILLEGAL_ARGUMENT", f"Invalid query parameter: {exc}"))
        except ApiError as exc:
            return self.error(call, exc)

    # ---- routing ---------------------------------------------------------------------------------
    def _headers(self, call: Call) -> dict[str, str]:
        return {"x-restli-protocol-version": "2.0.0", "x-li-uuid": call.request_id("li")}

    def _params(self, call: Call) -> dict[str, str]:
        """Query parameters with their raw (still percent-encoded) values: Rest.li parses the structure."""
        raw = call.request.url.query.decode("ascii", "replace")
        params: dict[str, str] = {}
        for part in raw.split("&"):
            if part:
                key, _, value = part.partition("=")
                params[unquote(key)] = value
        return params

    def _read(self, call: Call) -> dict[str, Any]:
        params = self._params(call)
        if call.path.rstrip("/") == "/rest/adAnalytics":
            return self._analytics(call, params)
        node = _ACCOUNT_NODE.match(call.path)
        if node is not None:
            account = self._account(call, node["account"])
            return {
                "id": int(account.account_id),
                "name": account.name,
                "currency": account.currency,
                "status": "ACTIVE",
                "type": "BUSINESS",
            }
        match = _ACCOUNT_PATH.match(call.path)
        if match is None or match["collection"] not in _COLLECTIONS:
            raise LinkedInError(404, "NOT_FOUND", f"No resource at {call.path}")
        account = self._account(call, match["account"])
        kind = _COLLECTIONS[match["collection"]]
        if match["key"] is not None:
            return self._render(self._entity(call, kind, match["key"], account), account)
        finder = unquote(params.get("q", ""))
        expected = "criteria" if kind == "ad" else "search"
        if finder != expected:
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", f"q={finder or '(missing)'}: this resource has finder q={expected}"
            )
        entities = self._search(call, kind, account, params)
        return self._page(params, [self._render(e, account) for e in entities])

    def _account(self, call: Call, raw: str) -> Account:
        account_id = unquote(raw)
        if account_id.startswith(ACCOUNT_URN):
            account_id = account_id[len(ACCOUNT_URN) :]
        account = self.access.account(PLATFORM, account_id)
        if account is None:
            raise LinkedInError(404, "NOT_FOUND", f"Ad account {account_id} does not exist")
        if call.tenant_scope and account.tenant_id != call.tenant_scope:
            raise LinkedInError(
                403, "ACCESS_DENIED", f"Not enough permissions to access: {ACCOUNT_URN}{account_id}", 100
            )
        return account

    def _entity(self, call: Call, kind: str, raw_key: str, account: Account) -> Entity:
        key = unquote(raw_key)
        prefix = {"campaign": GROUP_URN, "ad_group": CAMPAIGN_URN, "ad": CREATIVE_URN}[kind]
        if kind == "ad":
            if not key.startswith(CREATIVE_URN):
                raise LinkedInError(
                    400, "ILLEGAL_ARGUMENT", f"creative key must be a {CREATIVE_URN} URN: {key!r}"
                )
            key = key[len(CREATIVE_URN) :]
        entity = self.access.entity(PLATFORM, key, kind) if key.isdigit() else None
        if entity is None or entity.account_id != account.account_id:
            raise LinkedInError(
                404, "NOT_FOUND", f"{prefix}{key} does not exist in {ACCOUNT_URN}{account.account_id}"
            )
        return entity

    # ---- analytics -------------------------------------------------------------------------------
    def _analytics(self, call: Call, params: dict[str, str]) -> dict[str, Any]:
        query = self._analytics_query(call, params)
        # Conversions as reported today: recent days are still maturing (restated on later pulls).
        as_of = self.access.today + timedelta(days=self.app.restate_shift)
        window = self.limits.linkedin_restatement_days
        frame = self.access.cache.get(
            ("linkedin_analytics", query, as_of, window),
            [self.access.table("delivery")],
            lambda: _aggregate(query, self.access.table("delivery"), as_of=as_of, window=window),
        )
        rows = frame.head(
            self.limits.linkedin_analytics_max_elements
        ).to_dicts()  # cut silently, like LinkedIn
        elements = [_analytics_element(row, query) for row in rows]
        return {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}

    def _analytics_query(self, call: Call, params: dict[str, str]) -> AnalyticsQuery:
        if unquote(params.get("q", "")) != "analytics":
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", "adAnalytics: the sandbox serves the finder q=analytics"
            )
        if (call.header("x-restli-protocol-version") or "") != "2.0.0":
            raise LinkedInError(
                400,
                "ILLEGAL_ARGUMENT",
                "adAnalytics: send X-Restli-Protocol-Version: 2.0.0 for Rest.li query values",
            )
        pivot = unquote(params.get("pivot", ""))
        if pivot not in _PIVOTS:
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", f"pivot must be one of {', '.join(_PIVOTS)} in the sandbox"
            )
        granularity = unquote(params.get("timeGranularity", ""))
        if granularity not in _GRANULARITIES:
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", f"timeGranularity must be one of {', '.join(_GRANULARITIES)}"
            )
        since, until = _date_range(params.get("dateRange"))
        accounts = [_strip_urn(v, ACCOUNT_URN, "accounts") for v in _list(params.get("accounts"), "accounts")]
        campaigns = [
            _strip_urn(v, CAMPAIGN_URN, "campaigns") for v in _list(params.get("campaigns"), "campaigns")
        ]
        if not accounts and not campaigns:
            raise LinkedInError(
                400,
                "ILLEGAL_ARGUMENT",
                "adAnalytics needs a facet: accounts=List(...) or campaigns=List(...)",
            )
        for account_id in accounts:
            self._account(call, account_id)
        for campaign_id in campaigns:
            entity = self.access.entity(PLATFORM, campaign_id, "ad_group")
            if entity is None:
                raise LinkedInError(404, "NOT_FOUND", f"{CAMPAIGN_URN}{campaign_id} does not exist")
            self._account(call, entity.account_id)
        fields = tuple(f for f in unquote(params.get("fields", "")).split(",") if f)
        if not fields:
            raise LinkedInError(
                400,
                "ILLEGAL_ARGUMENT",
                "fields is required (e.g. fields=impressions,clicks,dateRange,pivotValues)",
            )
        if len(fields) > self.limits.linkedin_analytics_max_fields:
            raise LinkedInError(
                400,
                "ILLEGAL_ARGUMENT",
                f"at most {self.limits.linkedin_analytics_max_fields} fields per request",
            )
        unknown = [f for f in fields if f not in ANALYTICS_FIELDS]
        if unknown:
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", f"Unknown field(s) {', '.join(unknown)} in the sandbox"
            )
        return AnalyticsQuery(
            pivot, granularity, since, until, tuple(sorted(accounts)), tuple(sorted(campaigns)), fields
        )

    # ---- entities --------------------------------------------------------------------------------
    def _search(self, call: Call, kind: str, account: Account, params: dict[str, str]) -> list[Entity]:
        entities = self.access.entities(PLATFORM, kind, account.account_id)
        if kind == "ad":
            campaigns = [
                _strip_urn(v, CAMPAIGN_URN, "campaigns") for v in _list(params.get("campaigns"), "campaigns")
            ]
            statuses = _list(params.get("intendedStatuses"), "intendedStatuses")
            if campaigns:
                entities = [e for e in entities if e.ad_group_id in campaigns]
            if statuses:
                entities = [e for e in entities if e.row["status"] in statuses]
            return entities
        search = decode(params["search"]) if params.get("search") else {}
        if not isinstance(search, dict):
            raise LinkedInError(
                400,
                "ILLEGAL_ARGUMENT",
                "search must be a Rest.li record, e.g. (status:(values:List(ACTIVE)))",
            )
        for key, criterion in search.items():
            values = criterion.get("values") if isinstance(criterion, dict) else None
            if not isinstance(values, list):
                raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"search.{key} must be (values:List(...))")
            if key == "status":
                entities = [e for e in entities if e.row["status"] in values]
            elif key == "id":
                wanted = {
                    _strip_urn(v, CAMPAIGN_URN if kind == "ad_group" else GROUP_URN, "id") for v in values
                }
                entities = [e for e in entities if e.id in wanted]
            elif key == "campaignGroup" and kind == "ad_group":
                wanted = {_strip_urn(v, GROUP_URN, "campaignGroup") for v in values}
                entities = [e for e in entities if e.campaign_id in wanted]
            else:
                raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"search.{key} is not supported by the sandbox")
        return entities

    def _render(self, entity: Entity, account: Account) -> dict[str, Any]:
        row = entity.row
        account_urn = f"{ACCOUNT_URN}{account.account_id}"
        if entity.kind == "ad":
            created = _epoch_ms(row.get("launch_date"))
            return {
                "id": f"{CREATIVE_URN}{entity.id}",
                "account": account_urn,
                "campaign": f"{CAMPAIGN_URN}{entity.ad_group_id}",
                "name": row.get("ad_name"),
                "intendedStatus": row["status"],
                "isServing": self._serving(entity),
                "content": {"reference": f"urn:li:share:{entity.id}"},
                "createdAt": created,
                "lastModifiedAt": created,
            }
        group = (
            entity
            if entity.kind == "campaign"
            else self.access.entity(PLATFORM, entity.campaign_id, "campaign")
        )
        group_row = group.row if group is not None else {}
        schedule: dict[str, Any] = {"start": _epoch_ms(group_row.get("start_date"))}
        if group_row.get("end_date") is not None:
            schedule["end"] = _epoch_ms(group_row["end_date"], end_of_day=True)
        if entity.kind == "campaign":
            return {
                "id": int(entity.id),
                "account": account_urn,
                "name": row.get("campaign_name"),
                "status": row["status"],
                "runSchedule": schedule,
                "test": False,
            }
        out: dict[str, Any] = {
            "id": int(entity.id),
            "account": account_urn,
            "campaignGroup": f"{GROUP_URN}{entity.campaign_id}",
            "name": row.get("ad_group_name"),
            "status": row["status"],
            "type": "SPONSORED_UPDATES",
            "costType": "CPM",
            "objectiveType": "WEBSITE_CONVERSION",
            "runSchedule": schedule,
        }
        if row.get("daily_budget") is not None:
            out["dailyBudget"] = {"amount": money_str(row["daily_budget"]), "currencyCode": account.currency}
        return out

    def _serving(self, creative: Entity) -> bool:
        parents = [self.access.entity(PLATFORM, creative.ad_group_id or "", "ad_group"),
                   self.access.entity(PLATFORM, creative.campaign_id, "campaign")]  # fmt: skip
        return creative.row["status"] == "ACTIVE" and all(
            p is not None and p.row["status"] == "ACTIVE" for p in parents
        )

    def _page(self, params: dict[str, str], elements: list[dict[str, Any]]) -> dict[str, Any]:
        raw_size = unquote(params.get("pageSize", str(self.limits.linkedin_page_size_default)))
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= self.limits.linkedin_page_size_max:
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", f"pageSize must be 1..{self.limits.linkedin_page_size_max}"
            )
        size = int(raw_size)
        token = unquote(params.get("pageToken", ""))
        try:
            start = decode_cursor(token, "li") if token else 0
        except ApiError as exc:
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"Invalid pageToken {token!r}") from exc
        page = elements[start : start + size]
        metadata: dict[str, Any] = {}
        if start + size < len(elements):
            metadata["nextPageToken"] = encode_cursor(start + size, "li")
        return {"elements": page, "metadata": metadata}

    # ---- writes ----------------------------------------------------------------------------------
    def _write(self, call: Call) -> None:
        if (call.header("x-restli-method") or "").upper() != "PARTIAL_UPDATE":
            raise LinkedInError(
                400,
                "ILLEGAL_ARGUMENT",
                "The sandbox accepts POST updates only with X-RestLi-Method: PARTIAL_UPDATE",
            )
        legacy = _LEGACY_CAMPAIGN.match(call.path)
        if legacy is not None:
            entity = self.access.entity(PLATFORM, legacy["key"], "ad_group")
            if entity is None:
                raise LinkedInError(404, "NOT_FOUND", f"{CAMPAIGN_URN}{legacy['key']} does not exist")
            account = self._account(call, entity.account_id)
        else:
            match = _ACCOUNT_PATH.match(call.path)
            if match is None or match["key"] is None or match["collection"] not in _COLLECTIONS:
                raise LinkedInError(404, "NOT_FOUND", f"No resource at {call.path}")
            account = self._account(call, match["account"])
            entity = self._entity(call, _COLLECTIONS[match["collection"]], match["key"], account)
        changes = self._patch(call)
        status_field = "intendedStatus" if entity.kind == "ad" else "status"
        allowed = {status_field} | ({"dailyBudget"} if entity.kind == "ad_group" else set())
        unknown = sorted(set(changes) - allowed)
        if unknown or not changes:
            raise _input_error(
                unknown[0] if unknown else "patch/$set",
                "FIELD_NOT_UPDATABLE" if unknown else "REQUIRED_FIELD_MISSING",
                f"the sandbox updates {', '.join(sorted(allowed))} on this entity",
            )
        status = changes.get(status_field)
        if status is not None and status not in _WRITE_STATUSES:
            raise _input_error(
                status_field, "INVALID_VALUE", f"{status_field} must be one of {', '.join(_WRITE_STATUSES)}"
            )
        amount = self._budget(changes["dailyBudget"], account) if "dailyBudget" in changes else None
        if status is not None:
            self.access.set_status(PLATFORM, entity, status)
            self.app.record_write(call, entity.kind, entity.id, "status", status)
        if amount is not None:
            self.access.set_daily_budget(PLATFORM, entity, amount)
            self.app.record_write(call, entity.kind, entity.id, "daily_budget", amount)

    def _patch(self, call: Call) -> dict[str, Any]:
        body = call.json_body()
        patch = body.get("patch") if isinstance(body, dict) else None
        changes = patch.get("$set") if isinstance(patch, dict) else None
        if not isinstance(changes, dict) or set(patch) - {"$set"}:
            raise LinkedInError(
                400, "ILLEGAL_ARGUMENT", 'PARTIAL_UPDATE body must be {"patch": {"$set": {...}}}'
            )
        return changes

    def _budget(self, value: Any, account: Account) -> float:
        if not isinstance(value, dict) or set(value) != {"amount", "currencyCode"}:
            raise _input_error(
                "dailyBudget",
                "INVALID_VALUE",
                'dailyBudget must be {"amount": "50.00", "currencyCode": "USD"}',
            )
        if value["currencyCode"] != account.currency:
            raise _input_error(
                "dailyBudget/currencyCode",
                "INVALID_VALUE",
                f"currencyCode must be the account currency {account.currency}",
            )
        raw = value["amount"]
        try:
            amount = Decimal(raw) if isinstance(raw, str) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            raise _input_error(
                "dailyBudget/amount",
                "INVALID_VALUE",
                f"amount must be a decimal string like '50.00', got {raw!r}",
            )
        minimum = Decimal(self.limits.linkedin_min_daily_budget)
        if amount < minimum:
            raise _input_error(
                "dailyBudget/amount",
                "FIELD_VALUE_TOO_LOW",
                f"daily budget must be at least {minimum} {account.currency}",
            )
        return float(amount)


# ---- helpers ------------------------------------------------------------------------------------------


def _invalid_token() -> LinkedInError:
    return LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)


def _input_error(path: str, code: str, description: str) -> LinkedInError:
    error = LinkedInError(400, "ILLEGAL_ARGUMENT", f"Invalid input: {description}")
    error.details["input_errors"] = [
        {"description": description, "input": {"inputPath": {"fieldPath": path}}, "code": code}
    ]
    return error


def _list(raw: str | None, name: str) -> list[str]:
    if not raw:
        return []
    value = decode(raw)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"{name} must be List(...) of values")
    return value


def _strip_urn(value: str, prefix: str, name: str) -> str:
    key = value[len(prefix) :] if value.startswith(prefix) else ""
    if not key.isdigit():
        raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"{name}: expected {prefix}<id>, got {value!r}")
    return key


def _date_range(raw: str | None) -> tuple[date, date]:
    if not raw:
        raise LinkedInError(
            400, "ILLEGAL_ARGUMENT", "dateRange is required: (start:(year:Y,month:M,day:D),end:(...))"
        )
    value = decode(raw)
    try:
        start = value["start"]
        since = date(int(start["year"]), int(start["month"]), int(start["day"]))
        end = value.get("end")
        until = date(int(end["year"]), int(end["month"]), int(end["day"])) if end is not None else since
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise LinkedInError(
            400, "ILLEGAL_ARGUMENT", f"dateRange is not (start:(year,month,day),end:(...)): {exc}"
        ) from exc
    if until < since:
        raise LinkedInError(400, "ILLEGAL_ARGUMENT", "dateRange: end is before start")
    return since, until


def _aggregate(
    query: AnalyticsQuery, delivery: pl.DataFrame, *, as_of: date | None = None, window: int = 0
) -> pl.DataFrame:
    rows = delivery.filter(
        (pl.col("platform") == PLATFORM) & pl.col("date").is_between(query.since, query.until)
    )
    if as_of is not None:
        rows = restate_whole(rows, as_of, window)
    if query.accounts:
        rows = rows.filter(pl.col("account_id").is_in(list(query.accounts)))
    if query.campaigns:
        rows = rows.filter(pl.col("ad_group_id").is_in(list(query.campaigns)))
    key = _PIVOTS[query.pivot]
    if query.granularity == "ALL":
        rows = rows.with_columns(pl.lit(query.since).alias("date"))
    out = rows.group_by(["date", key]).agg(
        pl.col("spend_micros").sum(),
        pl.col("impressions").sum(),
        pl.col("clicks").sum(),
        pl.col("platform_conversions").sum(),
        pl.col("platform_conversion_value").sum(),
    )
    return out.rename({key: "pivot_id"}).sort(["date", "pivot_id"])


def _ymd(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def _analytics_element(row: dict[str, Any], query: AnalyticsQuery) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in query.fields:
        if name == "costInLocalCurrency":
            out[name] = micros_to_str(int(row["spend_micros"]))
        elif name == "impressions":
            out[name] = int(row["impressions"])
        elif name in ("clicks", "landingPageClicks"):
            out[name] = int(row["clicks"])
        elif name == "externalWebsiteConversions":
            out[name] = round(float(row["platform_conversions"]))
        elif name == "conversionValueInLocalCurrency":
            out[name] = money_str(float(row["platform_conversion_value"]))
        elif name == "dateRange":
            end = row["date"] if query.granularity == "DAILY" else query.until
            out[name] = {"start": _ymd(row["date"]), "end": _ymd(end)}
        elif name == "pivotValues":
            out[name] = [f"{_PIVOT_URN[query.pivot]}{row['pivot_id']}"]
    return out


def _epoch_ms(day: date | datetime | None, end_of_day: bool = False) -> int | None:
    if day is None:
        return None
    if isinstance(day, datetime):
        day = day.date()
    moment = datetime.combine(day, time(23, 59, 59) if end_of_day else time(), tzinfo=UTC)
    return int(moment.timestamp() * 1000)
