"""Fake Meta Marketing API (Graph API v21.0) served from the sandbox world.

Speaks the real wire format (PLATFORMS.md): numbers as strings, conversions as `actions` arrays,
cursor paging that ends when `paging.next` is absent, Graph error bodies, minor-unit budgets.

Routes (below `/v{N}`):
  GET  /act_{id}                          account node
  GET  /act_{id}/insights                 level, time_range|date_preset, time_increment, fields, limit, after
  POST /act_{id}/insights                 async report run -> {"report_run_id"}
  GET  /{report_run_id}                   async_status / async_percent_completion
  GET  /{report_run_id}/insights          the report's rows, paged like the sync endpoint
  GET  /act_{id}/campaigns|adsets|ads     entities, paged
  GET  /act_{id}/activities               activity log (budget events), newest first; since, until, fields
  GET  /{object_id}[/insights]            one campaign, ad set or ad (or its insights)
  POST /{object_id}                       status=ACTIVE|PAUSED, daily_budget=<minor units>
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import polars as pl

from connectors.sandbox.api.access import Account, Entity
from connectors.sandbox.api.common import (
    ApiError,
    Call,
    count_str,
    decode_cursor,
    encode_cursor,
    from_minor_units,
    json_response,
    maturity,
    micros_to_str,
    money_str,
    to_minor_units,
)
from connectors.sandbox.api.faults import RowFaultTarget

if TYPE_CHECKING:
    from connectors.sandbox.api.app import SandboxAPI
    from connectors.sandbox.api.faults import Fault

PURCHASE_ACTION = "offsite_conversion.fb_pixel_purchase"
LINK_CLICK_ACTION = "link_click"
LEVELS = ("ad", "adset", "campaign", "account")
_LEVEL_KEYS = {
    "account": [],
    "campaign": ["campaign_id"],
    "adset": ["campaign_id", "ad_group_id"],
    "ad": ["campaign_id", "ad_group_id", "ad_id"],
}
_LEVEL_FIELDS = {
    "account": set(),
    "campaign": {"campaign_id", "campaign_name", "objective"},
    "adset": {"campaign_id", "campaign_name", "objective", "adset_id", "adset_name"},
    "ad": {"campaign_id", "campaign_name", "objective", "adset_id", "adset_name", "ad_id", "ad_name"},
}
INSIGHTS_FIELDS = (
    "account_currency",
    "account_id",
    "account_name",
    "action_values",
    "actions",
    "ad_id",
    "ad_name",
    "adset_id",
    "adset_name",
    "campaign_id",
    "campaign_name",
    "clicks",
    "cpc",
    "cpm",
    "ctr",
    "date_start",
    "date_stop",
    "impressions",
    "objective",
    "spend",
)
_DEFAULT_INSIGHTS_FIELDS = ("impressions", "spend")
_NODE_FIELDS = {
    "campaign": [
        "id",
        "account_id",
        "name",
        "status",
        "configured_status",
        "effective_status",
        "objective",
        "daily_budget",
        "bid_strategy",
        "buying_type",
        "created_time",
        "start_time",
        "stop_time",
    ],
    "ad_group": [
        "id",
        "account_id",
        "campaign_id",
        "name",
        "status",
        "configured_status",
        "effective_status",
        "daily_budget",
        "bid_strategy",
        "bid_amount",
        "billing_event",
        "optimization_goal",
        "created_time",
        "start_time",
    ],
    "ad": [
        "id",
        "account_id",
        "campaign_id",
        "adset_id",
        "name",
        "status",
        "configured_status",
        "effective_status",
        "created_time",
    ],
    "account": ["id", "account_id", "name", "currency", "timezone_name", "account_status"],
}
_NODE_TYPE = {"campaign": "Campaign", "ad_group": "AdSet", "ad": "Ad", "account": "AdAccount"}
_EDGE_KIND = {"campaigns": "campaign", "adsets": "ad_group", "ads": "ad"}
_WRITE_PARAMS = {"status", "daily_budget", "access_token", "execution_options"}
_WRITE_STATUSES = ("ACTIVE", "PAUSED")
_REPORT_ID_BASE = 9_100_000_000_000_000
TOO_MUCH_DATA_SUBCODE = 1487534
TOO_MUCH_DATA = "Please reduce the amount of data you're asking for, then retry your request"
_INSIGHTS_REQUIRED = ("date_start", "ad_id", "spend", "impressions", "clicks", "account_currency")
_INSIGHTS_NUMERIC = ("spend", "impressions", "clicks")
# Entity edges: (fields a connector cannot do without, numeric fields, the field drift adds). Budgets
# are minor-unit strings ("1500"), bid_amount a JSON integer; ads carry no number.
_ENTITY_FAULTS: dict[
    str, tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...], tuple[tuple[str, ...], Any]]
] = {
    "campaigns": ((("id",), ("status",)), (("daily_budget",),), (("special_ad_categories",), [])),
    "adsets": (
        (("id",), ("campaign_id",), ("status",)),
        (("daily_budget",), ("bid_amount",)),
        (("targeting_optimization_types",), []),
    ),
    "ads": ((("id",), ("adset_id",), ("status",)), (), (("tracking_specs",), [])),
}
_PRESET = re.compile(r"^last_(\d+)d$")
ACTIVITY_FIELDS = (
    "actor_id",
    "actor_name",
    "application_id",
    "date_time_in_timezone",
    "event_time",
    "event_type",
    "extra_data",
    "object_id",
    "object_name",
    "object_type",
    "translated_event_type",
)
_DEFAULT_ACTIVITY_FIELDS = ("event_time", "event_type")


META_THROTTLES: tuple[tuple[int, int | None, str], ...] = (
    (17, 2446079, "(#17) User request limit reached"),
    (613, 1487742, "(#613) Calls to this api have exceeded the rate limit."),
    (
        80004,
        2446079,
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For more info, "
        "please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
    ),
)


class MetaError(ApiError):
    def __init__(self, message: str, code: int = 100, subcode: int | None = None, status: int = 400) -> None:
        super().__init__(status, message, code=code, subcode=subcode)


def meta_error_body(
    message: str,
    code: int,
    fbtrace_id: str,
    subcode: int | None = None,
    is_transient: bool | None = None,
    error_type: str = "OAuthException",
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    error["fbtrace_id"] = fbtrace_id
    return {"error": error}


@dataclass(frozen=True)
class InsightsQuery:
    account_id: str
    level: str
    fields: tuple[str, ...]
    since: date
    until: date
    increment: str  # "1".."90" | "monthly" | "all_days"
    node: tuple[str, str] | None  # (world id column, id) for /{object_id}/insights


class MetaAPI:
    platform = "meta"

    def __init__(self, app: SandboxAPI) -> None:
        self.app = app
        self.access = app.access
        self.limits = app.limits
        self._reports: dict[str, dict[str, Any]] = {}

    # ---- protocol used by SandboxAPI -------------------------------------------------------------
    def authenticate(self, call: Call) -> httpx.Response | None:
        token = _bearer(call) or call.form().get("access_token", "")
        if not token.strip():
            return self.error(call, MetaError("Invalid OAuth access token - Cannot parse access token", 190))
        call.token = token
        scope = _token_tenant(token)
        if scope is not None:
            if scope not in self.access.tenant_ids():
                return self.error(call, MetaError("Invalid OAuth access token - unknown sandbox tenant", 190))
            call.tenant_scope = scope
        return None

    def is_write(self, call: Call) -> bool:
        parts = _split(call.path)
        return call.method == "POST" and parts is not None and len(parts) == 1

    def fault_rows(self, call: Call) -> RowFaultTarget | None:
        """Body faults act on `data` of insights pages (sync or report) and entity listings."""
        parts = _split(call.path)
        if call.method != "GET" or parts is None or len(parts) != 2:
            return None
        stream = f"meta:{call.tenant_scope}:{parts[0]}/{parts[1]}"
        if parts[1] == "insights":
            fields = set(_parse_fields(call.query.get("fields")) or _DEFAULT_INSIGHTS_FIELDS)
            if parts[0] in self._reports:
                fields = set(self._reports[parts[0]]["query"].fields)
            return RowFaultTarget(
                rows=("data",),
                required=tuple((f,) for f in _INSIGHTS_REQUIRED if f in fields),
                numeric=tuple((f,) for f in _INSIGHTS_NUMERIC if f in fields),
                new_field=(("quality_ranking",), "ABOVE_AVERAGE_35"),
                stream=stream,
            )
        if parts[1] in _ENTITY_FAULTS:
            required, numeric, new_field = _ENTITY_FAULTS[parts[1]]
            return RowFaultTarget(
                rows=("data",), required=required, numeric=numeric, new_field=new_field, stream=stream
            )
        return None

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response:
        trace = call.request_id("fbtrace")[:11]
        if fault.kind == "429":
            body = meta_error_body("(#4) Application request limit reached", 4, trace, is_transient=True)
            return json_response(429, body, {"retry-after": str(retry_after)})
        code, subcode, message = META_THROTTLES[fault.variant % len(META_THROTTLES)]
        minutes = math.ceil(retry_after / 60)
        parts = call.path.strip("/").split("/")
        account = parts[1][4:] if len(parts) > 1 and parts[1].startswith("act_") else "0"
        usage = {"call_count": 100, "total_cputime": 35, "total_time": 48}
        business = [{"type": "ads_insights", **usage, "estimated_time_to_regain_access": minutes}]
        headers = {
            "x-business-use-case-usage": json.dumps({account: business}),
            "x-ad-account-usage": json.dumps({"acc_id_util_pct": 100, "reset_time_duration": retry_after}),
            "x-app-usage": json.dumps(usage),
        }
        return json_response(
            400, meta_error_body(message, code, trace, subcode=subcode, is_transient=True), headers
        )

    def server_error(self, status: int, call: Call) -> httpx.Response:
        trace = call.request_id("fbtrace")[:11]
        if status == 503:
            body = meta_error_body("(#2) Service temporarily unavailable", 2, trace, is_transient=True)
        else:
            body = meta_error_body("An unknown error occurred", 1, trace, subcode=99, is_transient=True)
        return json_response(status, body)

    def error(self, call: Call, exc: ApiError) -> httpx.Response:
        body = meta_error_body(
            exc.message,
            code=int(exc.details.get("code", 100)),
            subcode=exc.details.get("subcode"),
            fbtrace_id=call.request_id("fbtrace")[:11],
        )
        headers = self._headers(call)
        if exc.details.get("code") == 190:
            headers["www-authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{exc.message}"'
        return json_response(exc.status, body, headers)

    def handle(self, call: Call) -> httpx.Response:
        try:
            # fast: Graph API bodies carry numbers as strings; the sandbox never puts a float in one.
            return json_response(200, self._route(call), self._headers(call), fast=True)
        except ApiError as exc:
            return self.error(call, exc if "code" in exc.details else MetaError(f"(#100) {exc.message}"))

    # ---- routing ---------------------------------------------------------------------------------
    def _route(self, call: Call) -> dict[str, Any]:
        parts = _split(call.path)
        if parts is None or len(parts) > 2:
            raise MetaError(f"Unknown path components: {call.path}", code=2500)
        node, edge = parts[0], (parts[1] if len(parts) == 2 else None)
        get, post = call.method == "GET", call.method == "POST"
        if node.startswith("act_"):
            account = self._account(call, node[4:], "get" if get else "post")
            if edge is None and get:
                return self._account_node(call, account)
            if edge == "insights" and get:
                return self._insights_page(call, self._insights_query(call, account, None), sync=True)
            if edge == "insights" and post:
                return self._start_report(call, account)
            if edge in _EDGE_KIND and get:
                return self._list_entities(call, account, _EDGE_KIND[edge])
            if edge == "activities" and get:
                return self._activities(call, account)
        elif node in self._reports:
            report = self._reports[node]
            if report["tenant_id"] != (call.tenant_scope or report["tenant_id"]):
                raise _no_object(node, call.method)
            if edge is None and get:
                return self._report_status(node)
            if edge == "insights" and get:
                return self._insights_page(call, report["query"])
        else:
            entity = self._entity(call, node)
            if edge is None and get:
                return self._node(call, entity)
            if edge is None and post:
                return self._write(call, entity)
            if edge == "insights" and get:
                column = {"campaign": "campaign_id", "ad_group": "ad_group_id", "ad": "ad_id"}[entity.kind]
                account = self._account(call, entity.account_id, "get")
                return self._insights_page(call, self._insights_query(call, account, (column, entity.id)))
        raise MetaError(
            f"Unsupported {call.method.lower()} request. The sandbox does not serve {call.path}", subcode=33
        )

    def _account(self, call: Call, account_id: str, verb: str) -> Account:
        account = self.access.account("meta", account_id)
        if account is None or (call.tenant_scope and account.tenant_id != call.tenant_scope):
            raise _no_object(f"act_{account_id}", verb)
        return account

    def _entity(self, call: Call, object_id: str) -> Entity:
        entity = self.access.entity("meta", object_id)
        if entity is None or (call.tenant_scope and entity.tenant_id != call.tenant_scope):
            raise _no_object(object_id, call.method)
        return entity

    def _headers(self, call: Call) -> dict[str, str]:
        headers = {
            "facebook-api-version": _version(call.path),
            "x-fb-trace-id": call.request_id("fbtrace")[:11],
            "x-app-usage": json.dumps({"call_count": 1, "total_cputime": 1, "total_time": 1}),
        }
        parts = _split(call.path) or [""]
        if parts[0].startswith("act_"):
            usage = {"type": "ads_management", "call_count": 1, "total_cputime": 1, "total_time": 1}
            usage["estimated_time_to_regain_access"] = 0
            headers["x-business-use-case-usage"] = json.dumps({parts[0][4:]: [usage]})
        return headers

    # ---- insights --------------------------------------------------------------------------------
    def _insights_query(self, call: Call, account: Account, node: tuple[str, str] | None) -> InsightsQuery:
        params = call.form() if call.method == "POST" else call.query
        default_level = (
            "account"
            if node is None
            else {"campaign_id": "campaign", "ad_group_id": "adset"}.get(node[0], "ad")
        )
        level = params.get("level", default_level)
        if level not in LEVELS:
            raise MetaError(f"(#100) level must be one of the following values: {', '.join(LEVELS)}")
        fields = _parse_fields(params.get("fields")) or _DEFAULT_INSIGHTS_FIELDS
        for index, name in enumerate(fields):
            if name not in INSIGHTS_FIELDS:
                raise MetaError(
                    f"(#100) fields[{index}] must be one of the following values: {', '.join(INSIGHTS_FIELDS)}"
                )
        since, until = self._time_range(params)
        increment = params.get("time_increment", "all_days")
        if increment not in ("all_days", "monthly") and not (
            increment.isdigit() and 1 <= int(increment) <= 90
        ):
            raise MetaError("(#100) time_increment must be all_days, monthly or an integer from 1 to 90")
        return InsightsQuery(account.account_id, level, tuple(fields), since, until, increment, node)

    def _time_range(self, params: dict[str, str]) -> tuple[date, date]:
        today = self.access.today
        if "time_range" in params:
            try:
                raw = json.loads(params["time_range"])
                since, until = date.fromisoformat(raw["since"]), date.fromisoformat(raw["until"])
            except (ValueError, TypeError, KeyError) as exc:
                raise MetaError(
                    '(#100) time_range must be a JSON object {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}'
                ) from exc
            if since > until:
                raise MetaError("(#100) time_range: since must be on or before until")
            return since, until
        preset = params.get("date_preset", "last_30d")
        if preset == "today":
            return today, today
        if preset == "yesterday":
            return today - timedelta(days=1), today - timedelta(days=1)
        if preset == "maximum":
            return date(1970, 1, 1), today
        match = _PRESET.match(preset)
        if match is None:
            raise MetaError(f"(#100) date_preset {preset!r} is not supported by the sandbox")
        return today - timedelta(days=int(match.group(1))), today - timedelta(days=1)

    def _insights_frame(self, query: InsightsQuery) -> pl.DataFrame:
        tables = [self.access.table(n) for n in ("delivery", "campaigns", "ad_groups", "ads")]
        # Conversions as reported today: recent days are still maturing (restated on later pulls).
        as_of = self.access.today + timedelta(days=self.app.restate_shift)
        window = self.limits.meta_restatement_days
        return self.access.cache.get(
            ("meta_insights", query, as_of, window),
            tables,
            lambda: _aggregate(query, *tables, as_of=as_of, window=window),
        )

    def _insights_page(self, call: Call, query: InsightsQuery, *, sync: bool = False) -> dict[str, Any]:
        frame = self._insights_frame(query)
        if sync and frame.height > self.limits.meta_sync_max_rows:
            raise MetaError(TOO_MUCH_DATA, code=1, subcode=TOO_MUCH_DATA_SUBCODE, status=500)
        rows, paging = self._page(call, frame)
        account = self.access.account("meta", query.account_id)
        assert account is not None
        allowed = _LEVEL_FIELDS[query.level]
        data = [_insights_row(row, query.fields, allowed, account) for row in rows.to_dicts()]
        return {"data": data, **paging} if data else {"data": []}

    def _start_report(self, call: Call, account: Account) -> dict[str, Any]:
        query = self._insights_query(call, account, None)
        number = len(self._reports) + 1
        report_id = str(_REPORT_ID_BASE + number)
        failed = number <= self.limits.meta_async_failures
        self._reports[report_id] = {
            "tenant_id": account.tenant_id,
            "query": query,
            "polls": 0,
            "failed": failed,
        }
        return {"report_run_id": report_id}

    def _report_status(self, report_id: str) -> dict[str, Any]:
        report = self._reports[report_id]
        report["polls"] += 1
        done = report["polls"] > self.limits.meta_async_polls
        query: InsightsQuery = report["query"]
        state = "Job Completed" if done else "Job Running"
        if done and report["failed"]:
            state = "Job Failed"
        stamp = int(datetime.combine(self.access.today, time()).timestamp())
        status: dict[str, Any] = {
            "id": report_id,
            "account_id": query.account_id,
            "time_ref": stamp,
            "async_status": state,
            "async_percent_completion": 100 if state == "Job Completed" else 50 if not done else 0,
            "date_start": query.since.isoformat(),
            "date_stop": query.until.isoformat(),
        }
        if state == "Job Completed":
            status["time_completed"] = stamp
        return status

    # ---- entities --------------------------------------------------------------------------------
    def _account_node(self, call: Call, account: Account) -> dict[str, Any]:
        values = {
            "id": f"act_{account.account_id}",
            "account_id": account.account_id,
            "name": account.name,
            "currency": account.currency,
            "timezone_name": account.timezone,
            "account_status": 1,
        }
        return _pick(values, self._node_fields(call, "account"))

    def _list_entities(self, call: Call, account: Account, kind: str) -> dict[str, Any]:
        fields = self._node_fields(call, kind)
        entities = self.access.entities("meta", kind, account.account_id)
        if "effective_status" in call.query:
            try:
                wanted = set(json.loads(call.query["effective_status"]))
            except (ValueError, TypeError) as exc:
                raise MetaError("(#100) effective_status must be a JSON array of statuses") from exc
            entities = [e for e in entities if self._effective_status(e) in wanted]
        index = pl.DataFrame({"i": list(range(len(entities)))}, schema={"i": pl.Int64})
        rows, paging = self._page(call, index)
        data = [_pick(self._node_values(entities[i], account), fields) for i in rows["i"].to_list()]
        return {"data": data, **paging} if data else {"data": []}

    def _node(self, call: Call, entity: Entity) -> dict[str, Any]:
        account = self._account(call, entity.account_id, "get")
        return _pick(self._node_values(entity, account), self._node_fields(call, entity.kind))

    def _node_fields(self, call: Call, kind: str) -> list[str]:
        fields = _parse_fields(call.query.get("fields")) or ["id"]
        for name in fields:
            if name not in _NODE_FIELDS[kind]:
                raise MetaError(
                    f"(#100) Tried accessing nonexisting field ({name}) on node type ({_NODE_TYPE[kind]})"
                )
        return fields

    def _effective_status(self, entity: Entity) -> str:
        own = entity.row["status"]
        if entity.kind != "ad" and own == "PAUSED":
            return "PAUSED"
        campaign = self.access.entity("meta", entity.campaign_id, "campaign")
        if entity.kind != "campaign" and campaign is not None and campaign.row["status"] == "PAUSED":
            return "CAMPAIGN_PAUSED"
        if entity.kind == "ad":
            ad_group = self.access.entity("meta", entity.ad_group_id or "", "ad_group")
            if ad_group is not None and ad_group.row["status"] == "PAUSED":
                return "ADSET_PAUSED"
        return own

    def _node_values(self, entity: Entity, account: Account) -> dict[str, Any]:
        row = entity.row
        campaign = self.access.entity("meta", entity.campaign_id, "campaign")
        campaign_row = campaign.row if campaign is not None else {}
        target_cpa = campaign_row.get("target_cpa")
        zone = ZoneInfo(account.timezone)
        start = campaign_row.get("start_date")
        created = row.get("launch_date") if entity.kind == "ad" else start
        values: dict[str, Any] = {
            "id": entity.id,
            "account_id": account.account_id,
            "campaign_id": entity.campaign_id,
            "adset_id": entity.ad_group_id,
            "name": row.get(
                {"campaign": "campaign_name", "ad_group": "ad_group_name", "ad": "ad_name"}[entity.kind]
            ),
            "status": row["status"],
            "configured_status": row["status"],
            "effective_status": self._effective_status(entity),
            "created_time": _meta_time(created, zone),
            "start_time": _meta_time(start, zone),
        }
        if entity.kind == "campaign":
            values["objective"] = row.get("objective")
            values["buying_type"] = "AUCTION"
            if row.get("end_date") is not None:
                values["stop_time"] = _meta_time(row["end_date"], zone, end_of_day=True)
        if entity.kind in ("campaign", "ad_group"):
            if row.get("daily_budget") is not None:
                values["daily_budget"] = str(to_minor_units(row["daily_budget"], account.currency))
            values["bid_strategy"] = "COST_CAP" if target_cpa is not None else "LOWEST_COST_WITHOUT_CAP"
        if entity.kind == "ad_group":
            values["billing_event"] = "IMPRESSIONS"
            values["optimization_goal"] = "OFFSITE_CONVERSIONS"
            if target_cpa is not None:
                values["bid_amount"] = to_minor_units(target_cpa, account.currency)
        return values

    # ---- activity log ----------------------------------------------------------------------------
    def _activities(self, call: Call, account: Account) -> dict[str, Any]:
        """The account's activity log, newest first: the budget events derived from the world's
        planned budgets (truth/campaign_budgets): `create_campaign_group` with the creation budget on
        a campaign's first day, then `update_campaign_budget` on each day the budget changes. Events
        are stamped at account-local midnight of the day the budget takes effect and served only up
        to today. `since`/`until`: unix seconds or YYYY-MM-DD (until exclusive as a timestamp)."""
        fields = _parse_fields(call.query.get("fields")) or list(_DEFAULT_ACTIVITY_FIELDS)
        for index, name in enumerate(fields):
            if name not in ACTIVITY_FIELDS:
                raise MetaError(
                    f"(#100) fields[{index}] must be one of the following values: {', '.join(ACTIVITY_FIELDS)}"
                )
        zone = ZoneInfo(account.timezone)
        since = _activity_bound(call.query.get("since"), "since", zone)
        until = _activity_bound(call.query.get("until"), "until", zone)
        events = self._budget_events(account)
        today_end = datetime.combine(self.access.today + timedelta(days=1), time(), tzinfo=zone).timestamp()
        stamp = pl.col("epoch")
        keep = stamp < today_end
        if since is not None:
            keep &= stamp >= since
        if until is not None:
            keep &= stamp < until
        rows, paging = self._page(call, events.filter(keep))
        data = [_pick(row, fields) for row in rows.drop("epoch").to_dicts()]
        return {"data": data, **paging} if data else {"data": []}

    def _budget_events(self, account: Account) -> pl.DataFrame:
        truth = self.access.world.truth.get("campaign_budgets")
        campaigns = self.access.table("campaigns")
        if truth is None:
            raise MetaError("(#2) The sandbox world has no campaign budget history", code=2, status=500)
        return self.access.cache.get(
            ("meta_budget_events", account.account_id),
            [truth, campaigns],
            lambda: _budget_events(truth, campaigns, account),
        )

    # ---- writes ----------------------------------------------------------------------------------
    def _write(self, call: Call, entity: Entity) -> dict[str, Any]:
        params = call.form()
        unknown = sorted(set(params) - _WRITE_PARAMS)
        if unknown:
            raise MetaError(
                f"(#100) Param {unknown[0]} is not supported by the sandbox (status, daily_budget)"
            )
        status, budget = params.get("status"), params.get("daily_budget")
        if status is None and budget is None:
            raise MetaError("(#100) No fields to update: send status or daily_budget")
        if status is not None and status not in _WRITE_STATUSES:
            raise MetaError(f"(#100) status must be one of {', '.join(_WRITE_STATUSES)} in the sandbox")
        account = self._account(call, entity.account_id, "post")
        amount: float | None = None
        if budget is not None:
            amount = self._check_budget(entity, budget, account)
        if "validate_only" in params.get("execution_options", ""):
            return {"success": True}
        if status is not None:
            self.access.set_status("meta", entity, status)
            self.app.record_write(call, entity.kind, entity.id, "status", status)
        if amount is not None:
            self.access.set_daily_budget("meta", entity, amount)
            self.app.record_write(call, entity.kind, entity.id, "daily_budget", amount)
        return {"success": True}

    def _check_budget(self, entity: Entity, raw: str, account: Account) -> float:
        if entity.kind == "ad":
            raise MetaError("(#100) Param daily_budget is not valid for node type (Ad)")
        if entity.row.get("daily_budget") is None:
            where = "its ad sets" if entity.kind == "campaign" else "its campaign (campaign budget)"
            raise MetaError(
                f"(#100) This {_NODE_TYPE[entity.kind]} has no daily budget; set it on {where}", 100
            )
        if not raw.isdigit():
            raise MetaError(
                "(#100) daily_budget must be a whole number of minor currency units (2000 = 20.00)", 100
            )
        minor = int(raw)
        minimum = self.limits.meta_min_daily_budget_minor
        if minor < minimum:
            raise MetaError(
                f"Your budget is too low. The minimum daily budget is {from_minor_units(minimum, account.currency):.2f}"
                f" {account.currency}.",
                100,
                subcode=1885272,
            )
        return from_minor_units(minor, account.currency)

    # ---- paging ----------------------------------------------------------------------------------
    def _page(self, call: Call, frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any]]:
        params = call.query
        raw_limit = params.get("limit", str(self.limits.meta_default_limit))
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise MetaError("(#100) limit must be a positive integer")
        limit = min(int(raw_limit), self.limits.meta_max_limit)
        try:
            if params.get("after"):
                start = decode_cursor(params["after"]) + 1
            elif params.get("before"):
                start = max(0, decode_cursor(params["before"]) - limit)
            else:
                start = 0
        except ApiError as exc:
            raise MetaError("(#100) Invalid cursor: pass paging.cursors.after as it was returned") from exc
        rows = frame.slice(start, limit)
        if rows.height == 0:
            return rows, {}
        last = start + rows.height - 1
        paging: dict[str, Any] = {"cursors": {"before": encode_cursor(start), "after": encode_cursor(last)}}
        if last + 1 < frame.height:
            paging["next"] = call.url_with(after=encode_cursor(last), before=None, limit=str(limit))
        if start > 0:
            paging["previous"] = call.url_with(before=encode_cursor(start), after=None, limit=str(limit))
        return rows, {"paging": paging}


# ---- helpers --------------------------------------------------------------------------------------


def _aggregate(
    query: InsightsQuery,
    delivery: pl.DataFrame,
    campaigns: pl.DataFrame,
    ad_groups: pl.DataFrame,
    ads: pl.DataFrame,
    *,
    as_of: date | None = None,
    window: int = 0,
) -> pl.DataFrame:
    since, until = query.since, query.until
    rows = delivery.filter(
        (pl.col("platform") == "meta")
        & (pl.col("account_id") == query.account_id)
        & pl.col("date").is_between(since, until)
    )
    if as_of is not None and window > 0:
        # Purchases reported so far: whole purchases, their value at the day's average order value.
        final = pl.col("platform_conversions")
        served = (final * maturity((pl.lit(as_of) - pl.col("date")).dt.total_days(), window) + 1e-9).floor()
        rows = rows.with_columns(
            platform_conversions=served,
            platform_conversion_value=pl.when(final > 0)
            .then((pl.col("platform_conversion_value") * served / final).round(2))
            .otherwise(pl.col("platform_conversion_value")),
        )
    if query.node is not None:
        rows = rows.filter(pl.col(query.node[0]) == query.node[1])
    if query.increment == "all_days":
        rows = rows.with_columns(date_start=pl.lit(since), date_stop=pl.lit(until))
    elif query.increment == "monthly":
        rows = rows.with_columns(
            date_start=pl.max_horizontal(pl.col("date").dt.month_start(), pl.lit(since)),
            date_stop=pl.min_horizontal(pl.col("date").dt.month_end(), pl.lit(until)),
        )
    else:
        step = int(query.increment)
        offset = (pl.col("date") - pl.lit(since)).dt.total_days() // step * step
        start = pl.lit(since) + pl.duration(days=offset)
        rows = rows.with_columns(
            date_start=start,
            date_stop=pl.min_horizontal(start + pl.duration(days=step - 1), pl.lit(until)),
        )
    keys = _LEVEL_KEYS[query.level]
    out = rows.group_by([*keys, "date_start", "date_stop"]).agg(
        pl.col("spend_micros").sum(),
        pl.col("impressions").sum(),
        pl.col("clicks").sum(),
        pl.col("platform_conversions").sum(),
        pl.col("platform_conversion_value").sum(),
    )
    meta = pl.col("platform") == "meta"
    if "campaign_id" in keys:
        names = campaigns.filter(meta).select("campaign_id", "campaign_name", "objective")
        out = out.join(names, on="campaign_id", how="left")
    if "ad_group_id" in keys:
        out = out.join(
            ad_groups.filter(meta).select("ad_group_id", "ad_group_name"), on="ad_group_id", how="left"
        )
    if "ad_id" in keys:
        out = out.join(ads.filter(meta).select("ad_id", "ad_name"), on="ad_id", how="left")
    return out.sort(["date_start", *keys])


_ID_FIELDS = {
    "campaign_id": "campaign_id",
    "campaign_name": "campaign_name",
    "objective": "objective",
    "adset_id": "ad_group_id",
    "adset_name": "ad_group_name",
    "ad_id": "ad_id",
    "ad_name": "ad_name",
}


def _insights_row(row: dict[str, Any], fields: tuple[str, ...], allowed: set[str], account: Account) -> dict:
    """One insights row: the requested fields Meta has a value for, in the order asked (date_start and
    date_stop always, last). Only what was asked is computed."""
    spend_micros = int(row["spend_micros"])
    impressions, clicks = int(row["impressions"]), int(row["clicks"])
    conversions, value = float(row["platform_conversions"]), float(row["platform_conversion_value"])
    out: dict[str, Any] = {}
    for name in fields:
        if name == "spend":
            out[name] = micros_to_str(spend_micros)
        elif name == "impressions":
            out[name] = str(impressions)
        elif name == "clicks":
            out[name] = str(clicks)
        elif name == "account_id":
            out[name] = account.account_id
        elif name == "account_currency":
            out[name] = account.currency
        elif name == "account_name":
            out[name] = account.name
        elif name == "actions":
            actions = []
            if clicks > 0:
                actions.append({"action_type": LINK_CLICK_ACTION, "value": str(clicks)})
            if conversions > 0:
                actions.append({"action_type": PURCHASE_ACTION, "value": count_str(conversions)})
            if actions:
                out[name] = actions
        elif name == "action_values":
            if conversions > 0:
                out[name] = [{"action_type": PURCHASE_ACTION, "value": money_str(value)}]
        elif name in _ID_FIELDS:
            column = _ID_FIELDS[name]
            if name in allowed and row.get(column) is not None:
                out[name] = str(row[column])
        elif name in ("ctr", "cpm"):
            if impressions:
                spend = spend_micros / 1_000_000
                ratio = clicks / impressions * 100 if name == "ctr" else spend / impressions * 1000
                out[name] = f"{ratio:.6f}"
        elif name == "cpc" and clicks:
            out[name] = f"{spend_micros / 1_000_000 / clicks:.6f}"
    out["date_start"] = row["date_start"].isoformat()
    out["date_stop"] = row["date_stop"].isoformat()
    return out


def _activity_bound(raw: str | None, name: str, zone: ZoneInfo) -> float | None:
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return float(raw)
    try:
        return datetime.combine(date.fromisoformat(raw), time(), tzinfo=zone).timestamp()
    except ValueError as exc:
        raise MetaError(f"(#100) {name} must be a unix timestamp or YYYY-MM-DD, got {raw!r}") from exc


def _budget_events(truth: pl.DataFrame, campaigns: pl.DataFrame, account: Account) -> pl.DataFrame:
    """One event per budget change of each of the account's campaigns (plus the creation budget),
    newest first, with the columns the activities edge serves and `epoch` (unix seconds) to filter on."""
    mine = campaigns.filter((pl.col("platform") == "meta") & (pl.col("account_id") == account.account_id))
    names = dict(zip(mine["campaign_id"].cast(pl.String), mine["campaign_name"], strict=True))
    rows = (
        truth.filter(pl.col("platform") == "meta")
        .filter(pl.col("campaign_id").is_in(list(names)))
        .sort("campaign_id", "date")
        .with_columns(prev=pl.col("daily_budget").shift(1).over("campaign_id"))
        .filter(pl.col("prev").is_null() | (pl.col("prev") != pl.col("daily_budget")))
    )
    zone = ZoneInfo(account.timezone)
    out = []
    for row in rows.iter_rows(named=True):
        moment = datetime.combine(row["date"], time(), tzinfo=zone)
        new_minor = to_minor_units(row["daily_budget"], account.currency)
        created = row["prev"] is None
        extra: dict[str, Any] = {"currency": account.currency, "new_value": new_minor}
        if not created:
            extra["old_value"] = to_minor_units(row["prev"], account.currency)
        out.append(
            {
                "epoch": moment.timestamp(),
                "actor_id": "100000000000001",
                "actor_name": "Sandbox Media Buyer",
                "application_id": "0",
                "date_time_in_timezone": moment.strftime("%m/%d/%Y at %I:%M %p"),
                "event_time": moment.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "event_type": "create_campaign_group" if created else "update_campaign_budget",
                "translated_event_type": "Campaign created" if created else "Campaign budget updated",
                "extra_data": json.dumps(extra, separators=(",", ":")),
                "object_id": str(row["campaign_id"]),
                "object_name": names[row["campaign_id"]],
                "object_type": "CAMPAIGN",
            }
        )
    schema = {"epoch": pl.Float64} | {name: pl.String for name in ACTIVITY_FIELDS}
    frame = pl.DataFrame(out, schema=schema) if out else pl.DataFrame(schema=schema)
    return frame.sort("epoch", "object_id", descending=[True, False])


def _split(path: str) -> list[str] | None:
    match = re.match(r"^/v\d+\.\d+/(.+?)/?$", path)
    return match.group(1).split("/") if match else None


def _version(path: str) -> str:
    match = re.match(r"^/(v\d+\.\d+)/", path)
    return match.group(1) if match else "v21.0"


def _bearer(call: Call) -> str:
    auth = call.header("authorization") or ""
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def _token_tenant(token: str) -> str | None:
    return token[len("sandbox-") :] if token.startswith("sandbox-") else None


def _no_object(object_id: str, verb: str) -> MetaError:
    return MetaError(
        f"Unsupported {verb.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        code=100,
        subcode=33,
    )


def _parse_fields(raw: str | None) -> list[str]:
    if not raw:
        return []
    raw = raw.strip()
    if raw.startswith("["):
        try:
            return [str(f).strip() for f in json.loads(raw)]
        except ValueError as exc:
            raise MetaError("(#100) fields must be a comma-separated list") from exc
    return [f.strip() for f in raw.split(",") if f.strip()]


def _pick(values: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: values[name] for name in fields if values.get(name) is not None}


def _meta_time(day: date | datetime | None, zone: ZoneInfo, end_of_day: bool = False) -> str | None:
    """Graph API timestamps: account-local time with a numeric offset, e.g. 2026-01-05T00:00:00-0500."""
    if day is None:
        return None
    if isinstance(day, datetime):
        day = day.date()
    moment = datetime.combine(day, time(23, 59, 59) if end_of_day else time(), tzinfo=zone)
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")
