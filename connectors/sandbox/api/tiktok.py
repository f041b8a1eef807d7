"""Fake TikTok Business API (v1.3) served from the sandbox world.

World mapping (INTERFACES.md §7.1): campaign -> ad group (owns status and daily budget) -> ad; every id
is 19 digits, the advertiser's too. Header `Access-Token`. Every answer is HTTP 200 with
`{"code", "message", "request_id", "data"}`: errors, throttles (code 40100) and server trouble (50000)
included, so a caller must read `code`. Routes (below `/open_api/v1.3`):

  GET  /report/integrated/get/   advertiser_id, report_type=BASIC, data_level=AUCTION_AD|AUCTION_ADGROUP|
                                 AUCTION_CAMPAIGN, dimensions=["ad_id","stat_time_day"], metrics=[...],
                                 start_date, end_date (<= tiktok_report_max_days apart), page, page_size
  GET  /campaign/get/ | /adgroup/get/ | /ad/get/   advertiser_id, filtering (JSON), fields, page, page_size
  POST /adgroup/status/update/   {"advertiser_id", "adgroup_ids": [...], "operation_status": ENABLE|DISABLE}
  POST /adgroup/budget/update/   {"advertiser_id", "budget": [{"adgroup_id", "budget": 50.0}]}
  POST /ad/status/update/        {"advertiser_id", "ad_ids": [...], "operation_status": ENABLE|DISABLE}
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl

from connectors.sandbox.api.access import Account, Entity
from connectors.sandbox.api.common import (
    ApiError,
    Call,
    json_response,
    micros_to_str,
    money_str,
    restate_whole,
)
from connectors.sandbox.api.faults import RowFaultTarget

if TYPE_CHECKING:
    from connectors.sandbox.api.app import SandboxAPI
    from connectors.sandbox.api.faults import Fault

PLATFORM = "tiktok"
OK = 0
PARAM_ERROR = 40002
NO_PERMISSION = 40001
RATE_LIMITED = 40100
INVALID_TOKEN = 40105
SYSTEM_ERROR = 50000
SERVICE_UNAVAILABLE = 50002
_STATUS_TO_TIKTOK = {"ACTIVE": "ENABLE", "PAUSED": "DISABLE"}
_STATUS_TO_WORLD = {v: k for k, v in _STATUS_TO_TIKTOK.items()}
_LEVELS = {"AUCTION_AD": "ad_id", "AUCTION_ADGROUP": "ad_group_id", "AUCTION_CAMPAIGN": "campaign_id"}
_LEVEL_DIMENSION = {"AUCTION_AD": "ad_id", "AUCTION_ADGROUP": "adgroup_id", "AUCTION_CAMPAIGN": "campaign_id"}
METRICS = frozenset(
    {
        "spend",
        "impressions",
        "clicks",
        "conversion",
        "total_purchase_value",
        "campaign_id",
        "campaign_name",
        "adgroup_id",
        "adgroup_name",
        "ad_name",
        "currency",
    }
)
_ATTRIBUTES = {  # metric -> (level it needs at least, world column)
    "campaign_id": ("AUCTION_CAMPAIGN", "campaign_id"),
    "campaign_name": ("AUCTION_CAMPAIGN", "campaign_name"),
    "adgroup_id": ("AUCTION_ADGROUP", "ad_group_id"),
    "adgroup_name": ("AUCTION_ADGROUP", "ad_group_name"),
    "ad_name": ("AUCTION_AD", "ad_name"),
}
_DEPTH = {"AUCTION_CAMPAIGN": 0, "AUCTION_ADGROUP": 1, "AUCTION_AD": 2}
_THROTTLE_MESSAGES = (
    "Too many requests. Please retry in some time.",
    "Too many requests: the QPS of this app exceeded the limit.",
    "Requests made too frequently. Please retry later.",
)
_REPORT_NUMERIC = ("spend", "impressions", "clicks", "conversion", "total_purchase_value")
_ENTITY_ROUTES = {"campaign": "campaign", "adgroup": "ad_group", "ad": "ad"}
# Entity listings: (fields a connector cannot do without, numeric fields, the field drift adds).
_ENTITY_FAULTS: dict[
    str, tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...], tuple[tuple[str, ...], Any]]
] = {
    "campaign": (
        (("campaign_id",), ("operation_status",)),
        (("budget",),),
        (("is_smart_performance_campaign",), False),
    ),
    "adgroup": (
        (("adgroup_id",), ("campaign_id",), ("operation_status",)),
        (("budget",),),
        (("bid_type",), "BID_TYPE_NO_BID"),
    ),
    "ad": ((("ad_id",), ("adgroup_id",), ("operation_status",)), (), (("call_to_action",), "LEARN_MORE")),
}
_ROUTE = re.compile(r"^/open_api/v\d+\.\d+/(?P<path>[a-z_/]+?)/?$")


class TikTokError(ApiError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(200, message, code=code)


@dataclass(frozen=True)
class ReportQuery:
    advertiser_id: str
    level: str
    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    since: date
    until: date


class TikTokAPI:
    platform = PLATFORM

    def __init__(self, app: SandboxAPI) -> None:
        self.app = app
        self.access = app.access
        self.limits = app.limits

    # ---- protocol used by SandboxAPI -------------------------------------------------------------
    def authenticate(self, call: Call) -> httpx.Response | None:
        token = (call.header("access-token") or "").strip()
        if not token:
            return self._answer(call, INVALID_TOKEN, "Access token is incorrect or has been revoked.")
        call.token = token
        if token.startswith("sandbox-"):
            tenant = token[len("sandbox-") :]
            if tenant not in self.access.tenant_ids():
                return self._answer(call, INVALID_TOKEN, "Access token is incorrect or has been revoked.")
            call.tenant_scope = tenant
        return None

    def is_write(self, call: Call) -> bool:
        return call.method == "POST"

    def fault_rows(self, call: Call) -> RowFaultTarget | None:
        """Body faults act on `data.list` of reports (dimensions + metrics, every metric a string) and
        of the entity listings (`campaign/get/`, `adgroup/get/`, `ad/get/`)."""
        match = _ROUTE.match(call.path)
        path = match["path"] if match else ""
        if call.method != "GET":
            return None
        stream = f"tiktok:{call.tenant_scope}:{call.query.get('advertiser_id')}:{path}"
        if path.endswith("/get") and path[:-4] in _ENTITY_FAULTS:
            required, numeric, new_field = _ENTITY_FAULTS[path[:-4]]
            return RowFaultTarget(
                rows=("data", "list"), required=required, numeric=numeric, new_field=new_field, stream=stream
            )
        if path == "report/integrated/get":
            try:
                metrics = set(_json_list(call.query.get("metrics"), "metrics"))
            except TikTokError:
                return None
            level = _LEVEL_DIMENSION.get(call.query.get("data_level", ""), "ad_id")
            return RowFaultTarget(
                rows=("data", "list"),
                required=(
                    ("dimensions", "stat_time_day"),
                    ("dimensions", level),
                    *(("metrics", m) for m in ("spend", "impressions", "clicks") if m in metrics),
                ),
                numeric=tuple(("metrics", m) for m in _REPORT_NUMERIC if m in metrics),
                new_field=(("metrics", "reach"), "0"),
                stream=stream,
            )
        return None

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response:
        # TikTok throttles inside an HTTP 200: only `code` says so.
        return self._answer(call, RATE_LIMITED, _THROTTLE_MESSAGES[fault.variant % len(_THROTTLE_MESSAGES)])

    def server_error(self, status: int, call: Call) -> httpx.Response:
        if status == 503:
            return self._answer(
                call, SERVICE_UNAVAILABLE, "Service is temporarily unavailable. Please retry later."
            )
        return self._answer(call, SYSTEM_ERROR, "System error. Please retry later.")

    def error(self, call: Call, exc: ApiError) -> httpx.Response:
        return self._answer(call, int(exc.details.get("code", PARAM_ERROR)), exc.message)

    def handle(self, call: Call) -> httpx.Response:
        try:
            return self._answer(call, OK, "OK", self._route(call))
        except ApiError as exc:
            return self.error(call, exc)

    def _answer(self, call: Call, code: int, message: str, data: Any = None) -> httpx.Response:
        body = {"code": code, "message": message, "request_id": call.request_id("tiktok"), "data": data or {}}
        # fast: every float in a TikTok body is a budget with two decimals, printed the same by both encoders
        return json_response(200, body, fast=True)

    # ---- routing ---------------------------------------------------------------------------------
    def _route(self, call: Call) -> dict[str, Any]:
        match = _ROUTE.match(call.path)
        path = match["path"] if match else ""
        if call.method == "GET" and path == "report/integrated/get":
            return self._report(call)
        if call.method == "GET" and path.endswith("/get") and path[:-4] in _ENTITY_ROUTES:
            return self._entities(call, _ENTITY_ROUTES[path[:-4]])
        if call.method == "POST" and path in ("adgroup/status/update", "ad/status/update"):
            return self._status_update(call, "ad_group" if path.startswith("adgroup") else "ad")
        if call.method == "POST" and path == "adgroup/budget/update":
            return self._budget_update(call)
        raise TikTokError(40000, f"The sandbox does not serve {call.method} {call.path}")

    def _advertiser(self, call: Call, raw: Any) -> Account:
        advertiser_id = str(raw or "")
        if not advertiser_id.isdigit():
            raise TikTokError(PARAM_ERROR, "advertiser_id: Missing data for required field.")
        account = self.access.account(PLATFORM, advertiser_id)
        if account is None or (call.tenant_scope and account.tenant_id != call.tenant_scope):
            raise TikTokError(NO_PERMISSION, f"No permission to operate advertiser {advertiser_id}.")
        return account

    # ---- reads -----------------------------------------------------------------------------------
    def _report(self, call: Call) -> dict[str, Any]:
        params = call.query
        account = self._advertiser(call, params.get("advertiser_id"))
        if params.get("report_type", "BASIC") != "BASIC":
            raise TikTokError(PARAM_ERROR, "report_type: the sandbox serves BASIC reports")
        level = params.get("data_level", "")
        if level not in _LEVELS:
            raise TikTokError(PARAM_ERROR, f"data_level must be one of {', '.join(_LEVELS)}")
        dimensions = tuple(_json_list(params.get("dimensions"), "dimensions"))
        if set(dimensions) != {_LEVEL_DIMENSION[level], "stat_time_day"}:
            raise TikTokError(
                PARAM_ERROR,
                f'dimensions: the sandbox serves ["{_LEVEL_DIMENSION[level]}", "stat_time_day"] at {level}',
            )
        metrics = tuple(_json_list(params.get("metrics"), "metrics") or ["spend", "impressions"])
        for name in metrics:
            if name not in METRICS:
                raise TikTokError(PARAM_ERROR, f"metrics: {name} is not a valid metric")
            if name in _ATTRIBUTES and _DEPTH[_ATTRIBUTES[name][0]] > _DEPTH[level]:
                raise TikTokError(PARAM_ERROR, f"metrics: {name} is not available at {level}")
        since = _date(params.get("start_date"), "start_date")
        until = _date(params.get("end_date"), "end_date")
        if until < since:
            raise TikTokError(PARAM_ERROR, "end_date must be on or after start_date")
        if (until - since).days + 1 > self.limits.tiktok_report_max_days:
            raise TikTokError(
                PARAM_ERROR,
                f"The time range cannot exceed {self.limits.tiktok_report_max_days} days when stat_time_day is a dimension",
            )
        page, size = self._paging(params)
        query = ReportQuery(account.account_id, level, dimensions, metrics, since, until)
        tables = [self.access.table(n) for n in ("delivery", "campaigns", "ad_groups", "ads")]
        # Conversions as reported today: recent days are still maturing (restated on later pulls).
        as_of = self.access.today + timedelta(days=self.app.restate_shift)
        window = self.limits.tiktok_restatement_days
        frame = self.access.cache.get(
            ("tiktok_report", query, as_of, window),
            tables,
            lambda: _aggregate(query, *tables, as_of=as_of, window=window),
        )
        rows = frame.slice((page - 1) * size, size).to_dicts()
        items = [_report_row(row, query, account) for row in rows]
        return {"list": items, "page_info": _page_info(page, size, frame.height)}

    def _entities(self, call: Call, kind: str) -> dict[str, Any]:
        params = call.query
        account = self._advertiser(call, params.get("advertiser_id"))
        page, size = self._paging(params)
        entities = self.access.entities(PLATFORM, kind, account.account_id)
        filtering = _json_object(params.get("filtering"), "filtering")
        id_filter = {"campaign": "campaign_ids", "ad_group": "adgroup_ids", "ad": "ad_ids"}[kind]
        for key, value in filtering.items():
            if key == id_filter:
                wanted = {str(v) for v in _as_list(value, key)}
                entities = [e for e in entities if e.id in wanted]
            elif key == "campaign_ids" and kind != "campaign":
                wanted = {str(v) for v in _as_list(value, key)}
                entities = [e for e in entities if e.campaign_id in wanted]
            elif key == "primary_status" or key == "secondary_status":
                continue  # accepted, not modelled
            else:
                raise TikTokError(PARAM_ERROR, f"filtering.{key} is not supported by the sandbox")
        fields = _json_list(params.get("fields"), "fields") if params.get("fields") else None
        rows = [self._render(e, account, fields) for e in entities[(page - 1) * size : page * size]]
        return {"list": rows, "page_info": _page_info(page, size, len(entities))}

    def _render(self, entity: Entity, account: Account, fields: list[str] | None) -> dict[str, Any]:
        row = entity.row
        created = row.get("launch_date") if entity.kind == "ad" else None
        if created is None:
            campaign = self.access.entity(PLATFORM, entity.campaign_id, "campaign")
            created = campaign.row.get("start_date") if campaign is not None else None
        out: dict[str, Any] = {
            "advertiser_id": account.account_id,
            "campaign_id": entity.campaign_id,
            "operation_status": _STATUS_TO_TIKTOK.get(row["status"], row["status"]),
            "create_time": _timestamp(created),
        }
        if entity.kind == "campaign":
            out |= {"campaign_name": row.get("campaign_name"), "objective_type": "WEB_CONVERSIONS",
                    "budget_mode": "BUDGET_MODE_INFINITE", "budget": 0.0}  # fmt: skip
        elif entity.kind == "ad_group":
            budget = row.get("daily_budget")
            out |= {
                "adgroup_id": entity.id,
                "adgroup_name": row.get("ad_group_name"),
                "budget_mode": "BUDGET_MODE_DAY" if budget is not None else "BUDGET_MODE_INFINITE",
                "budget": float(money_str(budget)) if budget is not None else 0.0,
            }
        else:
            out |= {"adgroup_id": entity.ad_group_id, "ad_id": entity.id, "ad_name": row.get("ad_name")}
        if fields:
            unknown = [f for f in fields if f not in out]
            if unknown:
                raise TikTokError(PARAM_ERROR, f"fields: {unknown[0]} is not a valid field")
            out = {f: out[f] for f in fields}
        return out

    def _paging(self, params: dict[str, str]) -> tuple[int, int]:
        raw_page = params.get("page", "1")
        raw_size = params.get("page_size", str(self.limits.tiktok_page_size_default))
        if not raw_page.isdigit() or int(raw_page) < 1:
            raise TikTokError(PARAM_ERROR, "page: Must be greater than or equal to 1.")
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= self.limits.tiktok_page_size_max:
            raise TikTokError(
                PARAM_ERROR, f"page_size: Must be between 1 and {self.limits.tiktok_page_size_max}."
            )
        return int(raw_page), int(raw_size)

    # ---- writes ----------------------------------------------------------------------------------
    def _body(self, call: Call) -> dict[str, Any]:
        if not (call.header("content-type") or "").startswith("application/json"):
            raise TikTokError(PARAM_ERROR, "Content-Type must be application/json")
        body = call.json_body()
        if not isinstance(body, dict):
            raise TikTokError(PARAM_ERROR, "the request body must be a JSON object")
        return body

    def _owned(self, call: Call, account: Account, kind: str, raw_id: Any) -> Entity:
        entity = self.access.entity(PLATFORM, str(raw_id), kind)
        if entity is None or entity.account_id != account.account_id:
            label = "adgroup_id" if kind == "ad_group" else "ad_id"
            raise TikTokError(
                PARAM_ERROR, f"{label} {raw_id} does not exist under advertiser {account.account_id}."
            )
        return entity

    def _status_update(self, call: Call, kind: str) -> dict[str, Any]:
        body = self._body(call)
        account = self._advertiser(call, body.get("advertiser_id"))
        key = "adgroup_ids" if kind == "ad_group" else "ad_ids"
        ids = body.get(key)
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i.isdigit() for i in ids):
            raise TikTokError(PARAM_ERROR, f"{key}: a non-empty list of id strings is required.")
        operation = body.get("operation_status")
        if operation not in _STATUS_TO_WORLD:
            raise TikTokError(PARAM_ERROR, "operation_status must be ENABLE or DISABLE in the sandbox")
        entities = [self._owned(call, account, kind, i) for i in ids]  # all validated before any change
        for entity in entities:
            self.access.set_status(PLATFORM, entity, _STATUS_TO_WORLD[operation])
            self.app.record_write(call, entity.kind, entity.id, "status", _STATUS_TO_WORLD[operation])
        return {key: [e.id for e in entities], "status": operation}

    def _budget_update(self, call: Call) -> dict[str, Any]:
        body = self._body(call)
        account = self._advertiser(call, body.get("advertiser_id"))
        items = body.get("budget")
        if not isinstance(items, list) or not items:
            raise TikTokError(
                PARAM_ERROR, 'budget: a non-empty list of {"adgroup_id", "budget"} is required.'
            )
        minimum = Decimal(self.limits.tiktok_min_daily_budget)
        changes: list[tuple[Entity, float]] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or set(item) != {"adgroup_id", "budget"}:
                raise TikTokError(PARAM_ERROR, f'budget[{index}] must be {{"adgroup_id", "budget"}}')
            entity = self._owned(call, account, "ad_group", item["adgroup_id"])
            if entity.row.get("daily_budget") is None:
                raise TikTokError(
                    PARAM_ERROR,
                    f"adgroup {entity.id} has no daily budget (budget_mode is not BUDGET_MODE_DAY)",
                )
            amount = _amount(item["budget"], f"budget[{index}].budget")
            if amount < minimum:
                raise TikTokError(
                    PARAM_ERROR,
                    f"budget[{index}].budget: the daily budget must be at least {minimum} {account.currency}.",
                )
            changes.append((entity, float(amount)))
        for entity, value in changes:
            self.access.set_daily_budget(PLATFORM, entity, value)
            self.app.record_write(call, entity.kind, entity.id, "daily_budget", value)
        return {}


# ---- helpers ------------------------------------------------------------------------------------------


def _json_list(raw: str | None, name: str) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise TikTokError(PARAM_ERROR, f"{name}: must be a JSON array of strings") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TikTokError(PARAM_ERROR, f"{name}: must be a JSON array of strings")
    return value


def _json_object(raw: str | None, name: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise TikTokError(PARAM_ERROR, f"{name}: must be a JSON object") from exc
    if not isinstance(value, dict):
        raise TikTokError(PARAM_ERROR, f"{name}: must be a JSON object")
    return value


def _as_list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise TikTokError(PARAM_ERROR, f"filtering.{name} must be a list")
    return value


def _date(raw: str | None, name: str) -> date:
    try:
        return date.fromisoformat(raw or "")
    except ValueError as exc:
        raise TikTokError(PARAM_ERROR, f"{name}: must be a date YYYY-MM-DD") from exc


def _amount(raw: Any, name: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TikTokError(PARAM_ERROR, f"{name}: must be a number")
    try:
        amount = Decimal(repr(raw) if isinstance(raw, float) else str(raw))
    except InvalidOperation as exc:
        raise TikTokError(PARAM_ERROR, f"{name}: must be a number") from exc
    if not amount.is_finite() or (isinstance(raw, float) and not math.isfinite(raw)):
        raise TikTokError(PARAM_ERROR, f"{name}: must be a finite number")
    if amount != amount.quantize(Decimal("0.01")):
        raise TikTokError(PARAM_ERROR, f"{name}: at most two decimals")
    return amount


def _timestamp(day: date | datetime | None) -> str | None:
    if day is None:
        return None
    if not isinstance(day, datetime):
        day = datetime.combine(day, time())
    return day.strftime("%Y-%m-%d %H:%M:%S")


def _page_info(page: int, size: int, total: int) -> dict[str, int]:
    return {
        "page": page,
        "page_size": size,
        "total_number": total,
        "total_page": math.ceil(total / size) if total else 0,
    }


def _aggregate(
    query: ReportQuery,
    delivery: pl.DataFrame,
    campaigns: pl.DataFrame,
    ad_groups: pl.DataFrame,
    ads: pl.DataFrame,
    *,
    as_of: date | None = None,
    window: int = 0,
) -> pl.DataFrame:
    rows = delivery.filter(
        (pl.col("platform") == PLATFORM)
        & (pl.col("account_id") == query.advertiser_id)
        & pl.col("date").is_between(query.since, query.until)
    )
    if as_of is not None:
        rows = restate_whole(rows, as_of, window)
    depth = _DEPTH[query.level]
    keys = ["campaign_id", "ad_group_id", "ad_id"][: depth + 1]
    out = rows.group_by(["date", *keys]).agg(
        pl.col("spend_micros").sum(),
        pl.col("impressions").sum(),
        pl.col("clicks").sum(),
        pl.col("platform_conversions").sum(),
        pl.col("platform_conversion_value").sum(),
    )
    mine = pl.col("platform") == PLATFORM
    out = out.join(
        campaigns.filter(mine).select("campaign_id", "campaign_name"), on="campaign_id", how="left"
    )
    if depth >= 1:
        out = out.join(
            ad_groups.filter(mine).select("ad_group_id", "ad_group_name"), on="ad_group_id", how="left"
        )
    if depth >= 2:
        out = out.join(ads.filter(mine).select("ad_id", "ad_name"), on="ad_id", how="left")
    return out.sort(["date", *keys])


def _report_row(row: dict[str, Any], query: ReportQuery, account: Account) -> dict[str, Any]:
    """TikTok sends every metric as a string; ids as strings too."""
    metrics: dict[str, Any] = {}
    for name in query.metrics:
        if name == "spend":
            metrics[name] = micros_to_str(int(row["spend_micros"]))
        elif name in ("impressions", "clicks"):
            metrics[name] = str(int(row[name]))
        elif name == "conversion":
            metrics[name] = str(round(float(row["platform_conversions"])))
        elif name == "total_purchase_value":
            metrics[name] = money_str(float(row["platform_conversion_value"]))
        elif name == "currency":
            metrics[name] = account.currency
        else:
            value = row.get(_ATTRIBUTES[name][1])
            metrics[name] = None if value is None else str(value)
    level_key = _LEVELS[query.level]
    dimensions = {
        _LEVEL_DIMENSION[query.level]: str(row[level_key]),
        "stat_time_day": _timestamp(row["date"]),
    }
    return {"dimensions": dimensions, "metrics": metrics}
