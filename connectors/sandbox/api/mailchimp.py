"""Fake Mailchimp Marketing API 3.0 (campaign reports) served from the sandbox world.

Host `https://<dc>.api.mailchimp.com/3.0` (in-process any `<dc>`, e.g. `us21`), loopback `/mailchimp/3.0`.
Auth as Mailchimp: HTTP Basic with any user name and the API key as password (or `Bearer <key>`). The
data centre is the key's suffix after the last '-': the sandbox key `sandbox-<tenant_id>-us21` selects the
tenant's account and must be sent to `us21.api.mailchimp.com` (another data centre answers 401).

Routes:
  GET /3.0/                  the account (account_id, account_name, ...)
  GET /3.0/ping              {"health_status": "Everything's Chimpy!"}
  GET /3.0/reports           count (default 10, max `SandboxLimits.mailchimp_max_count`), offset, type,
                             since_send_time, before_send_time (ISO 8601): {"reports", "total_items"},
                             oldest send first (a stable order, so offset paging is repeatable)
  GET /3.0/reports/{id}      one report, or 404 "Resource Not Found"

Reports carry counts as JSON integers, rates as floats, and times as '2026-03-05T15:00:00+00:00'.
Errors are `application/problem+json` bodies (type, title, status, detail, instance). Throttling comes
as HTTP 429 problem bodies (Mailchimp allows `SandboxLimits.mailchimp_max_connections` simultaneous
connections per key) or as an HTML 403 from the edge, without a JSON body.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl

from connectors.sandbox.api.common import ApiError, Call, json_response, parse_instant_ms
from connectors.sandbox.api.faults import RowFaultTarget
from connectors.sandbox.api.owned_world import owned_table

if TYPE_CHECKING:
    from connectors.sandbox.api.app import SandboxAPI
    from connectors.sandbox.api.faults import Fault

ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
REPORT_TYPES = ("regular", "plaintext", "absplit", "rss", "variate", "automation")
_REPORT = re.compile(r"^/3\.0/reports(?:/(?P<id>[^/]+))?/?$")
_EDGE_403 = (
    b"<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n"
    b"You don't have permission to access this server. Too many requests.<P>\n</BODY>\n</HTML>\n"
)


def mailchimp_key(tenant_id: str, dc: str = "us21") -> str:
    """The sandbox API key of a tenant (Mailchimp keys end in `-<data centre>`)."""
    return f"sandbox-{tenant_id}-{dc}"


class MailchimpError(ApiError):
    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None):
        super().__init__(status, detail, title=title, errors=errors)


class MailchimpAPI:
    platform = "mailchimp"

    def __init__(self, app: SandboxAPI) -> None:
        self.app = app
        self.access = app.access
        self.limits = app.limits

    # ---- protocol used by SandboxAPI -------------------------------------------------------------
    def authenticate(self, call: Call) -> httpx.Response | None:
        key = _api_key(call.header("authorization") or "")
        if not key:
            return self.error(
                call, MailchimpError(401, "API Key Missing", "Your request did not include an API key.")
            )
        invalid = MailchimpError(
            401,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        )
        prefix, _, dc = key.rpartition("-")
        tenant = prefix[len("sandbox-") :] if prefix.startswith("sandbox-") else None
        host_dc = (
            call.request.url.host.split(".", 1)[0]
            if call.request.url.host.endswith(".api.mailchimp.com")
            else dc
        )
        if tenant not in self.access.tenant_ids() or not dc or host_dc != dc:
            return self.error(call, invalid)
        call.token, call.tenant_scope = key, tenant
        return None

    def is_write(self, call: Call) -> bool:
        return False

    def fault_rows(self, call: Call) -> RowFaultTarget | None:
        """Body faults act on `reports` of the report listing (offset paging)."""
        match = _REPORT.match(call.path)
        if call.method != "GET" or match is None or match["id"] is not None:
            return None
        counts = (("emails_sent",), ("abuse_reports",), ("unsubscribed",), ("bounces", "hard_bounces"),
                  ("bounces", "soft_bounces"), ("opens", "opens_total"), ("opens", "unique_opens"),
                  ("clicks", "clicks_total"), ("clicks", "unique_clicks"))  # fmt: skip
        return RowFaultTarget(
            rows=("reports",),
            required=(("id",), ("send_time",), ("emails_sent",), ("opens",), ("clicks",)),
            numeric=(*counts, ("opens", "open_rate"), ("clicks", "click_rate")),
            new_field=(("ecommerce",), {"total_orders": 0, "total_spent": 0, "total_revenue": 0}),
            stream=f"mailchimp:{call.tenant_scope}:reports:{call.query.get('type', '')}",
        )

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response:
        if fault.kind == "throttle":  # the edge refuses before the API sees the call: HTML, no JSON
            return httpx.Response(403, headers={"content-type": "text/html"}, content=_EDGE_403)
        detail = f"You have exceeded the limit of {self.limits.mailchimp_max_connections} simultaneous connections."
        headers = {"retry-after": str(retry_after)} if retry_after else {}
        return json_response(429, _problem(call, 429, "Too Many Requests", detail), headers, PROBLEM_JSON)

    def server_error(self, status: int, call: Call) -> httpx.Response:
        title = "Service Unavailable" if status == 503 else "Internal Server Error"
        detail = "An unexpected internal error has occurred. Please contact Support for more information."
        return json_response(status, _problem(call, status, title, detail), content_type=PROBLEM_JSON)

    def error(self, call: Call, exc: ApiError) -> httpx.Response:
        title = exc.details.get("title") or {400: "Invalid Resource", 404: "Resource Not Found"}.get(
            exc.status, "Bad Request"
        )
        body = _problem(call, exc.status, title, exc.message)
        if exc.details.get("errors"):
            body["errors"] = exc.details["errors"]
        return json_response(exc.status, body, content_type=PROBLEM_JSON)

    def handle(self, call: Call) -> httpx.Response:
        try:
            payload = self._route(call)
        except ApiError as exc:
            return self.error(call, exc)
        return json_response(200, payload, content_type="application/json; charset=utf-8")

    # ---- routing ---------------------------------------------------------------------------------
    def _route(self, call: Call) -> dict[str, Any]:
        if call.method != "GET":
            raise MailchimpError(405, "Method Not Allowed", f"The sandbox serves only GET on {call.path}.")
        path = call.path.rstrip("/") or "/"
        tenant = call.tenant_scope or ""
        if path in ("/3.0", "/"):
            return self._root(tenant)
        if path == "/3.0/ping":
            return {"health_status": "Everything's Chimpy!"}
        match = _REPORT.match(call.path)
        if match is None:
            raise MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")
        if match["id"] is not None:
            frame = self._reports(tenant).filter(pl.col("email_campaign_id") == match["id"])
            if frame.height == 0:
                raise MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")
            return _render(frame)[0]
        return self._list(call, tenant)

    def _root(self, tenant: str) -> dict[str, Any]:
        row = self.access.tenant(tenant) or {}
        reports = self._reports(tenant)
        accounts = self.access.accounts("mailchimp", tenant)
        account_id = (
            accounts[0].account_id if accounts else (reports["account_id"][0] if reports.height else "")
        )
        if not account_id:
            raise MailchimpError(404, "Resource Not Found", "This sandbox tenant has no Mailchimp account.")
        return {
            "account_id": account_id,
            "login_id": str(int(account_id[:8], 16) % 10**8),
            "account_name": row.get("name", tenant),
            "email": f"marketing@{tenant}.example",
            "username": f"{tenant}-marketing",
            "role": "owner",
            "account_timezone": row.get("timezone", "UTC"),
            "pricing_plan_type": "monthly",
            "total_subscribers": int(reports["emails_sent"].max() or 0) if reports.height else 0,
            "_links": [],
        }

    def _reports(self, tenant: str) -> pl.DataFrame:
        source = owned_table(self.access, "email_campaigns")
        return self.access.cache.get(("mailchimp", tenant), [source], lambda: _tenant_reports(source, tenant))

    def _list(self, call: Call, tenant: str) -> dict[str, Any]:
        query = call.query
        count = _int(query.get("count", "10"), "count")
        offset = _int(query.get("offset", "0"), "offset")
        if not 1 <= count <= self.limits.mailchimp_max_count:
            raise MailchimpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [
                    {
                        "field": "count",
                        "message": f"count must be between 1 and {self.limits.mailchimp_max_count}",
                    }
                ],
            )
        frame = self._reports(tenant)
        kind = query.get("type")
        if kind:
            if kind not in REPORT_TYPES:
                raise MailchimpError(
                    400,
                    "Invalid Resource",
                    "The resource submitted could not be validated.",
                    [{"field": "type", "message": f"type must be one of {', '.join(REPORT_TYPES)}"}],
                )
            frame = frame.filter(pl.col("type") == kind)
        for name in ("since_send_time", "before_send_time"):
            raw = query.get(name)
            if not raw:
                continue
            try:
                instant = parse_instant_ms(raw)
            except (TypeError, ValueError):
                raise MailchimpError(
                    400,
                    "Invalid Resource",
                    "The resource submitted could not be validated.",
                    [{"field": name, "message": f"{name} must be an ISO 8601 time, got {raw!r}"}],
                ) from None
            frame = frame.filter(
                pl.col("_ms") >= instant if name == "since_send_time" else pl.col("_ms") < instant
            )
        page = frame.slice(offset, count)
        return {
            "reports": _render(page),
            "total_items": frame.height,
            "_links": [
                {"rel": "self", "href": call.url_with(), "method": "GET", "targetSchema": "", "schema": ""},
            ],
        }


# ---- frames and rendering -------------------------------------------------------------------------


def _tenant_reports(source: pl.DataFrame, tenant: str) -> pl.DataFrame:
    rows = source.filter(pl.col("tenant_id") == tenant)
    send = rows["send_time"].dt.truncate("1s")
    main_list = rows["list_id"].mode().sort().first() if rows.height else None
    return (
        rows.with_columns(send_time=send, _ms=send.dt.epoch("ms"))
        .with_columns(
            list_name=pl.when(pl.col("list_id") == main_list)
            .then(pl.lit("Newsletter"))
            .otherwise(pl.lit("VIP customers"))
        )
        .sort(["_ms", "email_campaign_id"])
    )


def _render(page: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for r in page.iter_rows(named=True):  # a page is at most a thousand reports
        delivered = r["emails_sent"] - r["hard_bounces"] - r["soft_bounces"]
        sent_at = r["send_time"].strftime("%Y-%m-%dT%H:%M:%S+00:00")
        title = r["campaign_title"]
        out.append(
            {
                "id": r["email_campaign_id"],
                "campaign_title": title,
                "type": r["type"],
                "list_id": r["list_id"],
                "list_is_active": True,
                "list_name": r["list_name"],
                "subject_line": title.split(" - ", 1)[-1],
                "preview_text": "",
                "emails_sent": r["emails_sent"],
                "abuse_reports": r["abuse_reports"],
                "unsubscribed": r["unsubscribed"],
                "send_time": sent_at,
                "bounces": {
                    "hard_bounces": r["hard_bounces"],
                    "soft_bounces": r["soft_bounces"],
                    "syntax_errors": 0,
                },
                "forwards": {"forwards_count": 0, "forwards_opens": 0},
                "opens": {
                    "opens_total": r["opens_total"],
                    "unique_opens": r["unique_opens"],
                    "open_rate": r["unique_opens"] / delivered if delivered else 0,
                    "last_open": sent_at if r["opens_total"] else "",
                },
                "clicks": {
                    "clicks_total": r["clicks_total"],
                    "unique_clicks": r["unique_clicks"],
                    "unique_subscriber_clicks": r["unique_clicks"],
                    "click_rate": r["unique_clicks"] / delivered if delivered else 0,
                    "last_click": sent_at if r["clicks_total"] else "",
                },
                "_links": [],
            }
        )
    return out


def _problem(call: Call, status: int, title: str, detail: str) -> dict[str, Any]:
    instance = str(uuid.UUID(bytes=uuid.uuid5(uuid.NAMESPACE_URL, call.request_id("mailchimp")).bytes))
    return {"type": ERROR_DOCS, "title": title, "status": status, "detail": detail, "instance": instance}


def _api_key(authorization: str) -> str:
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    if scheme in ("bearer", "apikey", "oauth"):
        return value.strip()
    return ""


def _int(raw: str, name: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise MailchimpError(
            400,
            "Invalid Resource",
            "The resource submitted could not be validated.",
            [{"field": name, "message": f"{name} must be a non-negative integer, got {raw!r}"}],
        )
    return value
