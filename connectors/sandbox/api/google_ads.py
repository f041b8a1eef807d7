"""Fake Google Ads API (REST v18) served from the sandbox world.

Routes (below `/v{N}`):
  GET  /customers:listAccessibleCustomers
  POST /customers/{cid}/googleAds:searchStream   {"query": GAQL} -> [ {results, fieldMask, requestId}, ... ]
  POST /customers/{cid}/googleAds:search         {"query", "pageToken"} -> {results, nextPageToken, ...}
  POST /customers/{cid}/campaignBudgets:mutate   update amount_micros
  POST /customers/{cid}/campaigns:mutate         update status (ENABLED|PAUSED)
  POST /customers/{cid}/adGroups:mutate          update status
  POST /customers/{cid}/adGroupAds:mutate        update status

Results are nested by resource with camelCase keys; int64 values are strings, doubles are numbers,
unset fields are left out. World status ACTIVE is ENABLED here. A world `budget_id` is a campaign
budget: every campaign carrying it shares it, and one budget change moves all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl

from connectors.sandbox.api import gaql
from connectors.sandbox.api.access import Account
from connectors.sandbox.api.common import (
    ApiError,
    Call,
    JsonBytes,
    decode_cursor,
    dumps_json,
    encode_cursor,
    json_float,
    json_response,
    maturity,
)
from connectors.sandbox.api.faults import RowFaultTarget

if TYPE_CHECKING:
    from connectors.sandbox.api.app import SandboxAPI
    from connectors.sandbox.api.faults import Fault

FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.v18.errors.GoogleAdsFailure"
_ROUTE = re.compile(r"^/v\d+/customers/(?P<cid>[^/:]+)/(?P<service>\w+):(?P<method>\w+)$")
_LIST_CUSTOMERS = re.compile(r"^/v\d+/customers:listAccessibleCustomers$")
_STATUS_TO_GOOGLE = {"ACTIVE": "ENABLED", "PAUSED": "PAUSED"}
_STATUS_TO_WORLD = {"ENABLED": "ACTIVE", "PAUSED": "PAUSED"}
_INT64_SUFFIXES = (".id", "_micros", ".impressions", ".clicks", ".reference_count")
_DOUBLE_FIELDS = {"metrics.conversions", "metrics.conversions_value"}
_GRAIN = {"customer": None, "campaign": "_campaign_id", "ad_group": "_ad_group_id", "ad_group_ad": "_ad_id"}
_MICROS = 1_000_000
_MIN_CURRENCY_UNIT_MICROS = 10_000  # budgets must be whole cents
_METRICS_CAMEL = ("costMicros", "impressions", "clicks", "conversions", "conversionsValue")
# Entity queries (no metrics, no segments) by GAQL resource: (fields a connector cannot do without,
# numeric fields: int64 micros sent as strings, the field drift adds).
_ENTITY_FAULTS: dict[
    str, tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...], tuple[tuple[str, ...], Any]]
] = {
    "campaign": (
        (("campaign", "id"), ("campaign", "status")),
        (("campaignBudget", "amountMicros"), ("campaign", "targetCpa", "targetCpaMicros"),
         ("campaign", "maximizeConversions", "targetCpaMicros")),
        (("campaign", "servingStatus"), "SERVING"),
    ),
    "ad_group": (
        (("adGroup", "id"), ("adGroup", "status"), ("campaign", "id")),
        (),
        (("adGroup", "type"), "SEARCH_STANDARD"),
    ),
    "ad_group_ad": (
        (("adGroupAd", "ad", "id"), ("adGroupAd", "status"), ("adGroup", "id"), ("campaign", "id")),
        (),
        (("adGroupAd", "policySummary"), {"approvalStatus": "APPROVED"}),
    ),
}  # fmt: skip


class GoogleError(ApiError):
    def __init__(
        self,
        http_status: int,
        grpc_status: str,
        message: str,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(http_status, message, grpc_status=grpc_status, errors=errors)


def ads_error(code: dict[str, str], message: str, location: list[dict[str, Any]] | None = None) -> dict:
    """One GoogleAdsError: {"errorCode": {"queryError": "..."}, "message": ..., "location": ...}."""
    error: dict[str, Any] = {"errorCode": code, "message": message}
    if location:
        error["location"] = {"fieldPathElements": location}
    return error


def invalid_argument(errors: list[dict[str, Any]]) -> GoogleError:
    return GoogleError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", errors)


def google_error_body(
    http_status: int, grpc_status: str, message: str, errors: list[dict] | None, request_id: str
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": http_status, "message": message, "status": grpc_status}
    if errors is not None:
        error["details"] = [{"@type": FAILURE_TYPE, "errors": errors, "requestId": request_id}]
    return {"error": error}


@dataclass(frozen=True)
class _Mutation:
    service: str
    resource: str  # GAQL resource the operation updates
    pattern: re.Pattern[str]
    mask: frozenset[str]


_MUTATIONS = {
    "campaignBudgets": _Mutation(
        "campaignBudgets",
        "campaign_budget",
        re.compile(r"^customers/(\d+)/campaignBudgets/(\d+)$"),
        frozenset({"amount_micros"}),
    ),
    "campaigns": _Mutation(
        "campaigns", "campaign", re.compile(r"^customers/(\d+)/campaigns/(\d+)$"), frozenset({"status"})
    ),
    "adGroups": _Mutation(
        "adGroups", "ad_group", re.compile(r"^customers/(\d+)/adGroups/(\d+)$"), frozenset({"status"})
    ),
    "adGroupAds": _Mutation(
        "adGroupAds",
        "ad_group_ad",
        re.compile(r"^customers/(\d+)/adGroupAds/(\d+)~(\d+)$"),
        frozenset({"status"}),
    ),
}


def _entity_query(call: Call) -> gaql.Query | None:
    """The call's GAQL query when it reads entities only (no metrics, no segments); None otherwise
    (a stats query, or a body the handler itself refuses)."""
    try:
        body = call.json_body()
        query = gaql.parse(body.get("query") if isinstance(body, dict) else "")
    except (ApiError, gaql.GaqlError):
        return None
    if any(f.startswith(("metrics.", "segments.")) for f in query.fields):
        return None
    return query


class GoogleAdsAPI:
    platform = "google_ads"

    def __init__(self, app: SandboxAPI) -> None:
        self.app = app
        self.access = app.access
        self.limits = app.limits

    # ---- protocol used by SandboxAPI -------------------------------------------------------------
    def authenticate(self, call: Call) -> httpx.Response | None:
        auth = call.header("authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            return self.error(
                call,
                GoogleError(
                    401,
                    "UNAUTHENTICATED",
                    "Request is missing required authentication credential. Expected OAuth 2 access token, "
                    "login cookie or other valid authentication credential.",
                ),
            )
        call.token = token
        if not (call.header("developer-token") or "").strip():
            return self.error(
                call,
                invalid_argument(
                    [
                        ads_error(
                            {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"},
                            "developer-token parameter is missing.",
                        )
                    ]
                ),
            )
        if token.startswith("sandbox-"):
            tenant = token[len("sandbox-") :]
            if tenant not in self.access.tenant_ids():
                return self.error(
                    call,
                    GoogleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
                )
            call.tenant_scope = tenant
        return None

    def is_write(self, call: Call) -> bool:
        match = _ROUTE.match(call.path)
        return call.method == "POST" and match is not None and match["method"] == "mutate"

    def fault_rows(self, call: Call) -> RowFaultTarget | None:
        """Body faults act on the results of searchStream batches and search pages: of the ad stats
        (metrics by day), and of the entity queries (campaigns, ad groups, ads: no metrics, no
        segments), each entity query its own stream so "duplicate" repeats its own rows."""
        match = _ROUTE.match(call.path)
        if match is None or match["service"] != "googleAds":
            return None
        rows = ("*", "results") if match["method"] == "searchStream" else ("results",)
        entity = _entity_query(call)
        if entity is not None and entity.resource in _ENTITY_FAULTS:
            required, numeric, new_field = _ENTITY_FAULTS[entity.resource]
            return RowFaultTarget(
                rows=rows, required=required, numeric=numeric, new_field=new_field,
                stream=f"google:{match['cid']}:{match['method']}:{entity.resource}:{','.join(entity.fields)}",
            )  # fmt: skip
        return RowFaultTarget(
            rows=rows,
            # Metrics equal to zero are left out by Google itself: only these are always sent.
            required=(
                ("segments", "date"),
                ("adGroupAd", "ad", "id"),
                ("customer", "currencyCode"),
                ("campaign", "name"),
            ),
            numeric=tuple(("metrics", m) for m in _METRICS_CAMEL),
            new_field=(("metrics", "allConversions"), 1.0),
            stream=f"google:{match['cid']}:{match['method']}",
        )

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response:
        error = ads_error(
            {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
            f"Too many requests. Retry in {retry_after} seconds.",
        )
        error["details"] = {
            "quotaErrorDetails": {
                "rateScope": "DEVELOPER",
                "rateName": "Number of operations for basic access",
                "retryDelay": f"{retry_after}s",
            }
        }
        body = google_error_body(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            [error],
            call.request_id("google"),
        )
        headers = {"retry-after": str(retry_after)} if fault.kind == "429" else {}
        return json_response(429, body, headers)

    def server_error(self, status: int, call: Call) -> httpx.Response:
        if status == 503:
            error = ads_error({"internalError": "TRANSIENT_ERROR"}, "The service is currently unavailable.")
            body = google_error_body(
                503,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                [error],
                call.request_id("google"),
            )
        else:
            error = ads_error({"internalError": "INTERNAL_ERROR"}, "An internal error has occurred.")
            body = google_error_body(
                500, "INTERNAL", "Internal error encountered.", [error], call.request_id("google")
            )
        return json_response(status, body)

    def error(self, call: Call, exc: ApiError) -> httpx.Response:
        if not isinstance(exc, GoogleError):
            exc = invalid_argument([ads_error({"requestError": "INVALID_INPUT"}, exc.message)])
        body = google_error_body(
            exc.status,
            exc.details["grpc_status"],
            exc.message,
            exc.details["errors"],
            call.request_id("google"),
        )
        return json_response(exc.status, body, {"request-id": call.request_id("google")})

    def handle(self, call: Call) -> httpx.Response:
        try:
            return json_response(200, self._route(call), {"request-id": call.request_id("google")})
        except gaql.GaqlError as exc:
            return self.error(call, invalid_argument([ads_error({"queryError": exc.code}, exc.message)]))
        except ApiError as exc:
            return self.error(call, exc)

    # ---- routing ---------------------------------------------------------------------------------
    def _route(self, call: Call) -> Any:
        if _LIST_CUSTOMERS.match(call.path) and call.method == "GET":
            accounts = self.access.accounts("google_ads", call.tenant_scope)
            return {"resourceNames": [f"customers/{a.account_id}" for a in accounts]}
        match = _ROUTE.match(call.path)
        if match is None or call.method != "POST":
            raise GoogleError(404, "NOT_FOUND", f"The sandbox does not serve {call.method} {call.path}.")
        account = self._customer(call, match["cid"])
        service, method = match["service"], match["method"]
        body = call.json_body() or {}
        if not isinstance(body, dict):
            raise invalid_argument(
                [ads_error({"requestError": "INVALID_INPUT"}, "The body must be a JSON object.")]
            )
        if service == "googleAds" and method == "searchStream":
            return self._search_stream(call, account, body)
        if service == "googleAds" and method == "search":
            return self._search(call, account, body)
        if method == "mutate" and service in _MUTATIONS:
            return self._mutate(call, account, _MUTATIONS[service], body)
        raise GoogleError(404, "NOT_FOUND", f"The sandbox does not serve {service}:{method}.")

    def _customer(self, call: Call, cid: str) -> Account:
        if not cid.isdigit():
            raise invalid_argument(
                [
                    ads_error(
                        {"requestError": "INVALID_CUSTOMER_ID"},
                        f"Invalid customer ID '{cid}' (digits only, no dashes).",
                    )
                ]
            )
        account = self.access.account("google_ads", cid)
        if account is None or (call.tenant_scope and account.tenant_id != call.tenant_scope):
            raise GoogleError(
                403,
                "PERMISSION_DENIED",
                "The caller does not have permission",
                [
                    ads_error(
                        {"authorizationError": "USER_PERMISSION_DENIED"},
                        "User doesn't have permission to access customer. Note: If you're accessing a client "
                        "customer, the manager's customer id must be set in the 'login-customer-id' header.",
                    )
                ],
            )
        return account

    # ---- search ----------------------------------------------------------------------------------
    def _query(self, account: Account, query_text: Any) -> tuple[gaql.Query, pl.DataFrame]:
        query = gaql.parse(query_text if isinstance(query_text, str) else "")
        return query, self._query_frame(account, query)

    def _search_stream(self, call: Call, account: Account, body: dict[str, Any]) -> Any:
        query, frame = self._query(account, body.get("query"))
        mask, request_id = _field_mask(query), call.request_id("google")
        size = self.limits.google_batch_size

        def batches(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = [
                {"results": results[i : i + size], "fieldMask": mask, "requestId": request_id}
                for i in range(0, len(results), size)
            ]
            return out or [{"fieldMask": mask, "requestId": request_id}]

        try:  # the fast encoder, floats printed as json prints them
            return JsonBytes(dumps_json(batches(_render(frame, query, json_float)), fast=True))
        except TypeError:  # a value only json knows what to do with (or refuses): as before
            return batches(_render(frame, query))

    def _search(self, call: Call, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        query, frame = self._query(account, body.get("query"))
        start = 0
        if body.get("pageToken"):
            try:
                start = decode_cursor(str(body["pageToken"]), tag="gaql")
            except ApiError as exc:
                raise invalid_argument(
                    [ads_error({"requestError": "INVALID_PAGE_TOKEN"}, "Page token is invalid.")]
                ) from exc
        size = self.limits.google_page_size
        page: dict[str, Any] = {}
        results = _render(frame.slice(start, size), query)
        if results:
            page["results"] = results
        if start + size < frame.height:
            page["nextPageToken"] = encode_cursor(start + size, tag="gaql")
        if body.get("returnTotalResultsCount"):
            page["totalResultsCount"] = str(frame.height)
        page["fieldMask"] = _field_mask(query)
        page["requestId"] = call.request_id("google")
        return page

    def _query_frame(self, account: Account, query: gaql.Query) -> pl.DataFrame:
        if query.resource == "change_event":
            return self._change_events(account, query)
        names = ("accounts", "campaigns", "ad_groups", "ads")
        tables = [self.access.table(n) for n in names]
        entities = self.access.cache.get(
            ("google_entities", account.account_id, query.resource),
            tables,
            lambda: _entity_frame(account, query.resource, *tables[1:]),
        )
        frame = entities
        if query.has_metrics:
            metrics = _metrics(
                self.access.table("delivery"),
                account.account_id,
                query,
                self.access.today,
                as_of=self.access.today + timedelta(days=self.app.restate_shift),
                window=self.limits.google_restatement_days,
            )
            grain = _GRAIN[query.resource]
            frame = metrics.join(entities, how="cross") if grain is None else metrics.join(entities, on=grain)
        for cond in query.conditions:
            if cond.field != "segments.date":  # applied to delivery rows before summing
                frame = frame.filter(_condition(frame, cond, self.access.today))
        order = [(f, d) for f, d in query.order_by] or _default_order(query, frame)
        if order:
            frame = frame.sort([f for f, _ in order], descending=[d for _, d in order], maintain_order=True)
        return frame.head(query.limit) if query.limit else frame

    def _change_events(self, account: Account, query: gaql.Query) -> pl.DataFrame:
        """FROM change_event: campaign budget changes derived from the world's planned budgets
        (truth/campaign_budgets): a CREATE with the creation budget on a campaign's first day, then an
        UPDATE (old and new amount) on each day its budget changes, stamped at account-local midnight.
        As the real API: a LIMIT of at most CHANGE_EVENT_MAX_LIMIT is required and the WHERE clause
        must bound change_event.change_date_time to within the last CHANGE_EVENT_DAYS days."""
        if query.limit is None or query.limit > CHANGE_EVENT_MAX_LIMIT:
            raise gaql.GaqlError(
                "LIMIT_NOT_SPECIFIED_OR_TOO_LARGE",
                f"change_event queries need a LIMIT of at most {CHANGE_EVENT_MAX_LIMIT}.",
            )
        today = self.access.today
        low, high = _change_range(query, today)
        if low is None or high is None:
            raise gaql.GaqlError(
                "CHANGE_DATE_RANGE_INFINITE",
                "change_event queries must filter change_event.change_date_time to a finite range.",
            )
        if low < today - timedelta(days=CHANGE_EVENT_DAYS):
            raise gaql.GaqlError(
                "START_DATE_TOO_OLD",
                f"change_event.change_date_time must be within the last {CHANGE_EVENT_DAYS} days "
                f"(on or after {today - timedelta(days=CHANGE_EVENT_DAYS)}).",
            )
        truth = self.access.world.truth.get("campaign_budgets")
        campaigns = self.access.table("campaigns")
        if truth is None:
            raise ApiError(500, "The sandbox world has no campaign budget history")
        frame = self.access.cache.get(
            ("google_change_events", account.account_id),
            [truth, campaigns],
            lambda: _change_event_frame(truth, campaigns, account),
        )
        frame = frame.filter(pl.col("_date") <= today)
        for cond in query.conditions:
            frame = frame.filter(_condition(frame, cond, today))
        order = [(f, d) for f, d in query.order_by] or [("change_event.change_date_time", False)]
        frame = frame.sort([f for f, _ in order], descending=[d for _, d in order], maintain_order=True)
        return frame.head(query.limit)

    # ---- mutate ----------------------------------------------------------------------------------
    def _mutate(self, call: Call, account: Account, kind: _Mutation, body: dict[str, Any]) -> dict[str, Any]:
        operations = body.get("operations")
        if not isinstance(operations, list) or not operations:
            raise invalid_argument(
                [ads_error({"mutateError": "OPERATIONS_REQUIRED"}, "At least one operation is required.")]
            )
        partial, validate_only = bool(body.get("partialFailure")), bool(body.get("validateOnly"))
        plans: list[tuple[int, str, Callable[[], None]]] = []
        errors: list[dict[str, Any]] = []
        for index, operation in enumerate(operations):
            try:
                plans.append((index, *self._plan(call, account, kind, operation, index)))
            except _OperationError as exc:
                errors.append(exc.error)
        if errors and not partial:
            raise invalid_argument(errors)
        failure = None
        if errors:
            failure = {
                "code": 3,
                "message": f"Multiple errors in 'details'. First error: {errors[0]['message']}"
                if len(errors) > 1
                else errors[0]["message"],
                "details": [
                    {"@type": FAILURE_TYPE, "errors": errors, "requestId": call.request_id("google")}
                ],
            }
        if validate_only:
            return {"partialFailureError": failure} if failure else {}
        results: list[dict[str, Any]] = [{} for _ in operations]
        for index, resource_name, apply in plans:
            apply()
            results[index] = {"resourceName": resource_name}
        response: dict[str, Any] = {"results": results}
        if failure:
            response["partialFailureError"] = failure
        return response

    def _plan(
        self, call: Call, account: Account, kind: _Mutation, operation: Any, index: int
    ) -> tuple[str, Callable[[], None]]:
        def fail(code: dict[str, str], message: str, *path: str) -> _OperationError:
            location = [{"fieldName": "operations", "index": index}, *({"fieldName": p} for p in path)]
            return _OperationError(ads_error(code, message, location))

        if not isinstance(operation, dict) or set(operation) - {"update", "updateMask"}:
            raise fail({"mutateError": "MUTATE_NOT_ALLOWED"}, "The sandbox supports update operations only.")
        update = operation.get("update")
        if not isinstance(update, dict):
            raise fail(
                {"requestError": "REQUIRED_FIELD_MISSING"}, "The update operation is missing.", "update"
            )
        raw_mask = operation.get("updateMask")
        if not isinstance(raw_mask, str) or not raw_mask.strip():
            raise fail(
                {"fieldMaskError": "FIELD_MASK_MISSING"}, "The field mask must be set for update operations."
            )
        mask = {_snake(p.strip()) for p in raw_mask.split(",") if p.strip()}
        if mask - kind.mask:
            raise fail(
                {"fieldMaskError": "FIELD_NOT_FOUND"},
                f"The sandbox can update only {', '.join(sorted(kind.mask))} on {kind.service}; got {raw_mask!r}.",
                "update_mask",
            )
        resource_name = update.get("resourceName")
        match = kind.pattern.match(resource_name) if isinstance(resource_name, str) else None
        if match is None:
            raise fail(
                {"requestError": "RESOURCE_NAME_MALFORMED"},
                f"Resource name {resource_name!r} is malformed.",
                "update",
                "resource_name",
            )
        not_found = fail(
            {"mutateError": "RESOURCE_NOT_FOUND"}, "Resource was not found.", "update", "resource_name"
        )
        if match.group(1) != account.account_id:
            raise not_found
        if kind.resource == "campaign_budget":
            campaigns = self.access.campaigns_with_budget("google_ads", account.account_id, match.group(2))
            if not campaigns:
                raise not_found
            micros = _parse_micros(update.get("amountMicros"))
            if micros is None:
                raise fail(
                    {"fieldError": "REQUIRED"},
                    "amountMicros must be a whole number of micros.",
                    "update",
                    "amount_micros",
                )
            if micros < _MIN_CURRENCY_UNIT_MICROS:
                raise fail(
                    {"campaignBudgetError": "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC"},
                    "The budget amount is below the currency's minimum.",
                    "update",
                    "amount_micros",
                )
            if micros % _MIN_CURRENCY_UNIT_MICROS:
                raise fail(
                    {"campaignBudgetError": "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"},
                    "The budget amount must be a multiple of the currency's minimum unit.",
                    "update",
                    "amount_micros",
                )

            def apply_budget() -> None:
                for campaign in campaigns:
                    self.access.set_daily_budget("google_ads", campaign, micros / _MICROS)
                self.app.record_write(call, "campaign_budget", match.group(2), "amount_micros", micros)

            return resource_name, apply_budget
        kind_world = {"campaign": "campaign", "ad_group": "ad_group", "ad_group_ad": "ad"}[kind.resource]
        entity = self.access.entity("google_ads", match.group(match.re.groups), kind_world)
        if (
            entity is None
            or entity.account_id != account.account_id
            or (kind.resource == "ad_group_ad" and entity.ad_group_id != match.group(2))
        ):
            raise not_found
        status = update.get("status")
        if status not in _STATUS_TO_WORLD:
            raise fail(
                {"fieldError": "INVALID_VALUE"},
                f"status must be ENABLED or PAUSED in the sandbox, got {status!r}.",
                "update",
                "status",
            )

        def apply_status() -> None:
            self.access.set_status("google_ads", entity, _STATUS_TO_WORLD[status])
            self.app.record_write(call, entity.kind, entity.id, "status", status)

        return resource_name, apply_status


class _OperationError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


# ---- frames ---------------------------------------------------------------------------------------


def _entity_frame(
    account: Account, resource: str, campaigns: pl.DataFrame, ad_groups: pl.DataFrame, ads: pl.DataFrame
) -> pl.DataFrame:
    """Every attribute a resource exposes, one column per GAQL field (plus _ join keys)."""
    cid = account.account_id
    prefix = f"customers/{cid}"
    customer = pl.DataFrame(
        {
            "customer.resource_name": [prefix],
            "customer.id": [cid],
            "customer.descriptive_name": [account.name],
            "customer.currency_code": [account.currency],
            "customer.time_zone": [account.timezone],
        }
    )
    if resource == "customer":
        return customer
    mine = (pl.col("platform") == "google_ads") & (pl.col("account_id") == cid)
    camp = campaigns.filter(mine)
    target = (pl.col("target_cpa") * _MICROS).round(0).cast(pl.Int64)
    budget_micros = (pl.col("daily_budget") * _MICROS).round(0).cast(pl.Int64)
    budget_id = pl.col("budget_id").cast(pl.String)
    budget_rn = pl.lit(f"{prefix}/campaignBudgets/") + budget_id
    camp = camp.select(
        pl.col("campaign_id").alias("_campaign_id"),
        (pl.lit(f"{prefix}/campaigns/") + pl.col("campaign_id")).alias("campaign.resource_name"),
        pl.col("campaign_id").alias("campaign.id"),
        pl.col("campaign_name").alias("campaign.name"),
        pl.col("status").replace_strict(_STATUS_TO_GOOGLE, default="UNKNOWN").alias("campaign.status"),
        budget_rn.alias("campaign.campaign_budget"),
        pl.lit("SEARCH").alias("campaign.advertising_channel_type"),
        pl.lit("MAXIMIZE_CONVERSIONS").alias("campaign.bidding_strategy_type"),
        target.alias("campaign.target_cpa.target_cpa_micros"),
        target.alias("campaign.maximize_conversions.target_cpa_micros"),
        pl.col("start_date").cast(pl.String).alias("campaign.start_date"),
        pl.col("end_date").cast(pl.String).alias("campaign.end_date"),
        budget_rn.alias("campaign_budget.resource_name"),
        budget_id.alias("campaign_budget.id"),
        (pl.lit("Budget ") + budget_id).alias("campaign_budget.name"),
        budget_micros.alias("campaign_budget.amount_micros"),
        pl.lit("ENABLED").alias("campaign_budget.status"),
        pl.lit("STANDARD").alias("campaign_budget.delivery_method"),
        pl.len().over("budget_id").cast(pl.Int64).alias("campaign_budget.reference_count"),
    ).with_columns((pl.col("campaign_budget.reference_count") > 1).alias("campaign_budget.explicitly_shared"))
    camp = camp.join(customer, how="cross")
    if resource == "campaign":
        return camp
    if resource == "campaign_budget":
        budget_cols = [c for c in camp.columns if c.startswith(("campaign_budget.", "customer."))]
        return camp.select(budget_cols).unique(
            subset=["campaign_budget.id"], keep="first", maintain_order=True
        )
    camp_cols = [c for c in camp.columns if not c.startswith("campaign_budget.")]
    groups = ad_groups.filter(mine).select(
        pl.col("ad_group_id").alias("_ad_group_id"),
        pl.col("campaign_id").alias("_campaign_id"),
        (pl.lit(f"{prefix}/adGroups/") + pl.col("ad_group_id")).alias("ad_group.resource_name"),
        pl.col("ad_group_id").alias("ad_group.id"),
        pl.col("ad_group_name").alias("ad_group.name"),
        pl.col("status").replace_strict(_STATUS_TO_GOOGLE, default="UNKNOWN").alias("ad_group.status"),
        (pl.lit(f"{prefix}/campaigns/") + pl.col("campaign_id")).alias("ad_group.campaign"),
        pl.lit("SEARCH_STANDARD").alias("ad_group.type"),
    )
    groups = groups.join(camp.select(camp_cols), on="_campaign_id", how="left")
    if resource == "ad_group":
        return groups
    ad_rows = ads.filter(mine).select(
        pl.col("ad_id").alias("_ad_id"),
        pl.col("ad_group_id").alias("_ad_group_id"),
        (pl.lit(f"{prefix}/adGroupAds/") + pl.col("ad_group_id") + pl.lit("~") + pl.col("ad_id")).alias(
            "ad_group_ad.resource_name"
        ),
        (pl.lit(f"{prefix}/ads/") + pl.col("ad_id")).alias("ad_group_ad.ad.resource_name"),
        pl.col("ad_id").alias("ad_group_ad.ad.id"),
        pl.col("ad_name").alias("ad_group_ad.ad.name"),
        pl.col("status").replace_strict(_STATUS_TO_GOOGLE, default="UNKNOWN").alias("ad_group_ad.status"),
        (pl.lit(f"{prefix}/adGroups/") + pl.col("ad_group_id")).alias("ad_group_ad.ad_group"),
    )
    return ad_rows.join(groups.drop("_campaign_id"), on="_ad_group_id", how="left").with_columns(
        pl.col("campaign.id").alias("_campaign_id")
    )


def _metrics(
    delivery: pl.DataFrame,
    cid: str,
    query: gaql.Query,
    today: date,
    *,
    as_of: date | None = None,
    window: int = 0,
) -> pl.DataFrame:
    """Delivery summed to the resource's grain (and day when segments.date is selected). Conversions
    are those reported by `as_of`: recent days are still maturing and are restated on later pulls."""
    rows = delivery.filter((pl.col("platform") == "google_ads") & (pl.col("account_id") == cid))
    if as_of is not None and window > 0:
        share = maturity((pl.lit(as_of) - pl.col("date")).dt.total_days(), window)
        rows = rows.with_columns(
            platform_conversions=(pl.col("platform_conversions") * share).round(2),
            platform_conversion_value=(pl.col("platform_conversion_value") * share).round(2),
        )
    rows = rows.rename({"campaign_id": "_campaign_id", "ad_group_id": "_ad_group_id", "ad_id": "_ad_id"})
    rows = rows.with_columns(pl.col("date").alias("segments.date"))
    for cond in query.conditions:
        if cond.field == "segments.date":
            rows = rows.filter(_condition(rows, cond, today))
    grain = _GRAIN[query.resource]
    keys = [] if grain is None else [grain]
    if "segments.date" in query.fields:
        keys.append("segments.date")
    aggs = [
        pl.col("spend_micros").sum().cast(pl.Int64).alias("metrics.cost_micros"),
        pl.col("impressions").sum().cast(pl.Int64).alias("metrics.impressions"),
        pl.col("clicks").sum().cast(pl.Int64).alias("metrics.clicks"),
        pl.col("platform_conversions").sum().cast(pl.Float64).alias("metrics.conversions"),
        pl.col("platform_conversion_value")
        .sum()
        .round(2)
        .cast(pl.Float64)
        .alias("metrics.conversions_value"),
    ]
    if not keys:
        totals = rows.select(aggs)
        return totals if rows.height else totals.clear()
    return rows.group_by(keys).agg(aggs)


CHANGE_EVENT_MAX_LIMIT = 10_000
CHANGE_EVENT_DAYS = 30


def _change_range(query: gaql.Query, today: date) -> tuple[date | None, date | None]:
    """The days the change_date_time conditions bound (None where open)."""
    low: date | None = None
    high: date | None = None
    for cond in query.conditions:
        if cond.field != "change_event.change_date_time":
            continue
        lo = hi = None
        if cond.op == "DURING":
            lo, hi = gaql.during_range(cond.value, today)
        elif cond.op in (">=", ">", "=") or cond.op in ("<=", "<"):
            try:
                day = date.fromisoformat(str(cond.value)[:10])
            except ValueError as exc:
                raise gaql.GaqlError(
                    "BAD_VALUE_IN_WHERE_CLAUSE", f"Bad change_date_time {cond.value!r}."
                ) from exc
            lo = day if cond.op in (">=", ">", "=") else None
            hi = day if cond.op in ("<=", "<", "=") else None
        if lo is not None:
            low = lo if low is None else max(low, lo)
        if hi is not None:
            high = hi if high is None else min(high, hi)
    return low, high


def _change_event_frame(truth: pl.DataFrame, campaigns: pl.DataFrame, account: Account) -> pl.DataFrame:
    cid = account.account_id
    mine = campaigns.filter((pl.col("platform") == "google_ads") & (pl.col("account_id") == cid))
    budgets = dict(zip(mine["campaign_id"].cast(pl.String), mine["budget_id"].cast(pl.String), strict=True))
    rows = (
        truth.filter(pl.col("platform") == "google_ads")
        .filter(pl.col("campaign_id").is_in(list(budgets)))
        .sort("campaign_id", "date")
        .with_columns(prev=pl.col("daily_budget").shift(1).over("campaign_id"))
        .filter(pl.col("prev").is_null() | (pl.col("prev") != pl.col("daily_budget")))
    )
    prefix = f"customers/{cid}"
    out = []
    for i, row in enumerate(rows.iter_rows(named=True)):
        stamp = f"{row['date'].isoformat()} 00:00:00.000000"
        created = row["prev"] is None
        out.append(
            {
                "_date": row["date"],
                "change_event.resource_name": f"{prefix}/changeEvents/{row['date'].strftime('%Y%m%d')}000000~{i}~0",
                "change_event.change_date_time": stamp,
                "change_event.change_resource_type": "CAMPAIGN_BUDGET",
                "change_event.change_resource_name": f"{prefix}/campaignBudgets/{budgets[row['campaign_id']]}",
                "change_event.resource_change_operation": "CREATE" if created else "UPDATE",
                "change_event.client_type": "GOOGLE_ADS_WEB_CLIENT",
                "change_event.user_email": "buyer@sandbox.example",
                "change_event.campaign": f"{prefix}/campaigns/{row['campaign_id']}",
                "change_event.old_resource.campaign_budget.amount_micros": None
                if created
                else round(row["prev"] * _MICROS),
                "change_event.new_resource.campaign_budget.amount_micros": round(
                    row["daily_budget"] * _MICROS
                ),
            }
        )
    schema = {"_date": pl.Date} | {
        f: (pl.Int64 if f.endswith("_micros") else pl.String) for f in gaql.RESOURCES["change_event"][:10]
    }
    frame = pl.DataFrame(out, schema=schema) if out else pl.DataFrame(schema=schema)
    customer = {
        "customer.resource_name": prefix,
        "customer.id": cid,
        "customer.descriptive_name": account.name,
        "customer.currency_code": account.currency,
        "customer.time_zone": account.timezone,
    }
    return frame.with_columns(*(pl.lit(v, dtype=pl.String).alias(k) for k, v in customer.items()))


def _condition(frame: pl.DataFrame, cond: gaql.Condition, today: date) -> pl.Expr:
    column = pl.col(cond.field)
    dtype = frame.schema.get(cond.field)
    if dtype is None:
        raise gaql.GaqlError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{cond.field}'.")
    if cond.op == "DURING":
        low, high = gaql.during_range(cond.value, today)
        return column.is_between(low, high)

    def cast(value: Any) -> Any:
        try:
            if dtype == pl.Date:
                return date.fromisoformat(str(value))
            if dtype == pl.Boolean:
                return str(value).upper() == "TRUE"
            if dtype.is_integer():
                return int(value)
            if dtype.is_float():
                return float(value)
        except ValueError as exc:
            raise gaql.GaqlError(
                "BAD_VALUE_IN_WHERE_CLAUSE", f"Bad value {value!r} for {cond.field}."
            ) from exc
        return str(value)

    if cond.op in ("IN", "NOT IN"):
        expr = column.is_in([cast(v) for v in cond.value])
        return ~expr if cond.op == "NOT IN" else expr
    value = cast(cond.value)
    return {
        "=": column == value,
        "!=": column != value,
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
    }[cond.op]


def _default_order(query: gaql.Query, frame: pl.DataFrame) -> list[tuple[str, bool]]:
    keys = ["segments.date", "campaign.id", "campaign_budget.id", "ad_group.id", "ad_group_ad.ad.id"]
    return [
        (k, False)
        for k in keys
        if k in frame.columns and (k != "segments.date" or "segments.date" in query.fields)
    ]


def _render(
    frame: pl.DataFrame, query: gaql.Query, float_value: Callable[[float], Any] | None = None
) -> list[dict[str, Any]]:
    """Rows -> nested REST results: {"campaign": {"resourceName", "id"}, "metrics": {...}, ...}.

    `float_value` wraps every float (e.g. `json_float`, for the fast JSON encoder)."""
    fields = list(query.fields)
    # Each resource object present carries its resourceName, the FROM resource always.
    objects = {query.resource}
    for name in query.fields:
        parts = name.split(".")
        objects.update(".".join(parts[:i]) for i in range(1, len(parts)))
    for obj in sorted(objects):
        rn = f"{obj}.resource_name"
        if rn in frame.columns and rn not in fields:
            fields.append(rn)
    selected = frame.select(
        [pl.col(f).cast(pl.String) if _is_int64(f) or f == "segments.date" else pl.col(f) for f in fields]
    )
    paths = [_path(f) for f in fields]
    columns = [column.to_list() for column in selected.get_columns()]
    if float_value is not None:
        for i, dtype in enumerate(selected.dtypes):
            if dtype.is_float():
                columns[i] = [None if v is None else float_value(v) for v in columns[i]]
    nested = any(dtype.is_nested() for dtype in selected.dtypes)
    plan = None if nested else _plan(paths)
    results = []
    for row in zip(*columns, strict=True) if columns else ():
        if plan is not None and None not in row:
            results.append(_build(plan, row))  # the shape every complete row has, built directly
            continue
        result: dict[str, Any] = {}
        for path, value in zip(paths, row, strict=True):
            if value is None:
                continue
            node = result
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        results.append(_order_keys(result))
    return results


_Plan = tuple[tuple[str, Any], ...]


def _plan(paths: list[tuple[str, ...]]) -> _Plan | None:
    """The nesting `_render` gives a row without nulls, with column indexes as leaves (None when two
    fields clash, e.g. one is a prefix of another: such rows go the general way)."""
    tree: dict[str, Any] = {}
    for index, path in enumerate(paths):
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                return None
        if isinstance(node.get(path[-1]), dict):
            return None
        node[path[-1]] = index

    def freeze(node: dict[str, Any]) -> _Plan:
        return tuple((k, freeze(v) if isinstance(v, dict) else v) for k, v in node.items())

    return freeze(_order_keys(tree))


def _build(plan: _Plan, row: tuple[Any, ...]) -> dict[str, Any]:
    return {key: row[spec] if type(spec) is int else _build(spec, row) for key, spec in plan}


def _order_keys(node: dict[str, Any]) -> dict[str, Any]:
    """resourceName first in every object, as the API prints it."""
    out = {"resourceName": node["resourceName"]} if "resourceName" in node else {}
    for key, value in node.items():
        if key != "resourceName":
            out[key] = _order_keys(value) if isinstance(value, dict) else value
    return out


def _is_int64(field: str) -> bool:
    return field.endswith(_INT64_SUFFIXES) and field not in _DOUBLE_FIELDS


def _camel(part: str) -> str:
    head, *rest = part.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _snake(part: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), part)


def _path(field: str) -> tuple[str, ...]:
    return tuple(_camel(p) for p in field.split("."))


def _field_mask(query: gaql.Query) -> str:
    return ",".join(".".join(_path(f)) for f in query.fields)


def _parse_micros(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
        return int(raw)
    return None
