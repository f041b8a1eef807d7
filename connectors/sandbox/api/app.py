"""`SandboxAPI`: one handler for every fake platform, used in-process (httpx transport) or on loopback.

A request is routed by host (the real hosts, in-process) or by path prefix (`/meta`, `/google-ads`,
`/hubspot`, `/linkedin`, `/tiktok`, on loopback), then: fault injection -> authentication ->
idempotency (writes carrying `X-Idempotency-Key`) -> the platform handler. Requests are served one at a time (a lock), so writes and
the fault RNG stay deterministic under a threaded server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from connectors.sandbox.api.access import WorldAccess
from connectors.sandbox.api.common import (
    IDEMPOTENCY_HEADER,
    LOOPBACK_PREFIXES,
    MAILCHIMP_HOST_SUFFIX,
    REAL_HOSTS,
    ApiError,
    Call,
    SandboxLimits,
    json_response,
)
from connectors.sandbox.api.faults import (
    RESTATE_SHIFT_DAYS,
    Fault,
    FaultConfig,
    FaultInjector,
    RowFaultTarget,
    truncated,
)
from connectors.sandbox.api.google_ads import GoogleAdsAPI, ads_error, invalid_argument
from connectors.sandbox.api.hubspot import HubSpotAPI
from connectors.sandbox.api.idempotency import IdempotencyStore
from connectors.sandbox.api.linkedin import LinkedInAPI
from connectors.sandbox.api.mailchimp import MailchimpAPI
from connectors.sandbox.api.meta import MetaAPI, MetaError
from connectors.sandbox.api.social import SocialAPI
from connectors.sandbox.api.tiktok import TikTokAPI


class PlatformHandler(Protocol):
    platform: str

    def authenticate(self, call: Call) -> httpx.Response | None: ...
    def is_write(self, call: Call) -> bool: ...
    def handle(self, call: Call) -> httpx.Response: ...
    def error(self, call: Call, exc: ApiError) -> httpx.Response: ...
    # Fault injection answers in the platform's own dialect (see faults.FaultAnswerer).
    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response: ...
    def server_error(self, status: int, call: Call) -> httpx.Response: ...


@dataclass(frozen=True)
class AppliedWrite:
    """One change the fake APIs applied to the sandbox state (replays are not counted)."""

    platform: str
    entity_type: str  # campaign | ad_group | ad | campaign_budget
    entity_id: str
    field: str  # status | daily_budget | amount_micros
    value: Any
    idempotency_key: str | None


@dataclass(frozen=True)
class Outcome:
    response: httpx.Response
    timed_out: bool = False  # a "timeout" fault: the caller must not see `response` in time
    fault: str | None = None
    dropped: bool = False  # a "drop" fault: the connection closes mid-body (in-process: an exception)


class SandboxAPI:
    def __init__(
        self,
        state: Any,
        faults: FaultConfig | None = None,
        *,
        limits: SandboxLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.access = WorldAccess(state)
        self.limits = limits or SandboxLimits()
        self.faults = faults
        self.applied_writes: list[AppliedWrite] = []
        self.injected_faults: list[tuple[str, str]] = []  # (platform, kind), in order
        # Days added to "today" when maturing restated numbers (a "restate" fault serves a later pull).
        self.restate_shift = 0
        self._injector = FaultInjector(faults) if faults is not None else None
        world_dir = self.access.world_dir
        self.idempotency = IdempotencyStore(world_dir / "state" / "idempotency.jsonl" if world_dir else None)
        self._lock = threading.RLock()
        self.meta = MetaAPI(self)
        self.google_ads = GoogleAdsAPI(self)
        self.hubspot = HubSpotAPI(self, clock)
        self.linkedin = LinkedInAPI(self)
        self.tiktok = TikTokAPI(self)
        self.mailchimp = MailchimpAPI(self)
        self.social = SocialAPI(self)
        self._handlers: dict[str, PlatformHandler] = {
            "meta": self.meta,
            "google_ads": self.google_ads,
            "hubspot": self.hubspot,
            "linkedin": self.linkedin,
            "tiktok": self.tiktok,
            "mailchimp": self.mailchimp,
            "social": self.social,
        }

    # ---- entry points ----------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request in-process; a timeout fault raises `httpx.ReadTimeout`."""
        outcome = self.dispatch(request)
        if outcome.timed_out:
            raise httpx.ReadTimeout("sandbox fault: the platform did not answer in time", request=request)
        if outcome.dropped:
            raise httpx.RemoteProtocolError(
                "sandbox fault: peer closed connection without sending complete message body",
                request=request,
            )
        return outcome.response

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def dispatch(self, request: httpx.Request) -> Outcome:
        request.read()
        call = _route(request)
        if call is None:
            body = {"error": f"no sandbox platform at {request.url.host}{request.url.path}"}
            return Outcome(json_response(404, body))
        with self._lock:
            injector = self._injector
            fault = injector.draw(call) if injector is not None else None
            if injector is None or fault is None:
                response = self._serve(call)
                if injector is not None:
                    injector.remember(self._fault_rows(call), response)
                return Outcome(response)
            self.injected_faults.append((call.platform, fault.kind))
            handler = self._handlers[call.platform]
            if fault.changes_body:
                return self._body_fault(injector, fault, call)
            if fault.kind != "timeout":
                return Outcome(injector.response(fault, call, handler), fault=fault.kind)
            if injector.config.timeout_mode == "before":  # nothing processed
                return Outcome(injector.response(fault, call, handler), timed_out=True, fault="timeout")
            return Outcome(self._serve(call), timed_out=True, fault="timeout")  # processed, answer lost

    def record_write(self, call: Call, entity_type: str, entity_id: str, field: str, value: Any) -> None:
        key = call.header(IDEMPOTENCY_HEADER)
        self.applied_writes.append(AppliedWrite(call.platform, entity_type, entity_id, field, value, key))

    # ---- internals -------------------------------------------------------------------------------
    def _fault_rows(self, call: Call) -> RowFaultTarget | None:
        hook = getattr(self._handlers[call.platform], "fault_rows", None)
        if hook is None:
            return None
        try:
            return hook(call)
        except Exception:  # a request the handler cannot place (it answered an error anyway)
            return None

    def _body_fault(self, injector: FaultInjector, fault: Fault, call: Call) -> Outcome:
        """Serve the request, then drop, repeat, restate or drift its answer."""
        if fault.kind == "restate":
            self.restate_shift = RESTATE_SHIFT_DAYS * (fault.variant + 1)
            try:
                return Outcome(self._serve(call), fault=fault.kind)
            finally:
                self.restate_shift = 0
        response = self._serve(call)
        if fault.kind == "drop":
            if fault.variant % 2:  # the body stops half way, the connection closes
                return Outcome(truncated(response), fault=fault.kind)
            return Outcome(response, fault=fault.kind, dropped=True)
        target = self._fault_rows(call)
        return Outcome(injector.alter(fault, target, response), fault=fault.kind)

    def _serve(self, call: Call) -> httpx.Response:
        handler = self._handlers[call.platform]
        denied = handler.authenticate(call)
        if denied is not None:
            return denied
        key = call.header(IDEMPOTENCY_HEADER)
        if not key or not handler.is_write(call):
            return handler.handle(call)
        fingerprint = call.fingerprint()
        stored = self.idempotency.get(call.platform, key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return handler.error(
                    call,
                    _reused_key(
                        call.platform,
                        f"{IDEMPOTENCY_HEADER} {key!r} was already used for a different request",
                    ),
                )
            return stored.response()
        response = handler.handle(call)
        self.idempotency.put(call.platform, key, fingerprint, response)
        return response


def sandbox_transport(
    state: Any, faults: FaultConfig | None = None, *, limits: SandboxLimits | None = None
) -> httpx.MockTransport:
    """An httpx transport answering the real platform hosts from the sandbox state."""
    return SandboxAPI(state, faults, limits=limits).transport()


def _route(request: httpx.Request) -> Call | None:
    url = request.url
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    path = url.path
    platform = REAL_HOSTS.get(url.host)
    if platform is None and url.host.endswith(MAILCHIMP_HOST_SUFFIX):
        platform = "mailchimp"
    base = origin
    if platform is None:
        for name, prefix in LOOPBACK_PREFIXES.items():
            if path == prefix or path.startswith(prefix + "/"):
                platform, base, path = name, origin + prefix, path[len(prefix) :] or "/"
                break
    if platform is None:
        return None
    params = [(k, v) for k, v in url.params.multi_items()]
    return Call(request=request, platform=platform, base=base, path=path, params=params, body=request.content)


def _reused_key(platform: str, message: str) -> ApiError:
    if platform == "meta":
        return MetaError(f"(#100) {message}")
    if platform == "google_ads":
        return invalid_argument([ads_error({"requestError": "INVALID_INPUT"}, message)])
    return ApiError(422, message)
