"""Seeded, transient fault injection for the fake APIs.

A seeded RNG decides per request whether it fails and how. Kinds:
  "429"      HTTP 429 with `Retry-After` and the platform's rate-limit body
  "throttle" the platform's own throttle signal: Meta HTTP 400 with code 17/613/80004 and usage headers,
             Google 429 RESOURCE_EXHAUSTED with a retryDelay, HubSpot 429 TEN_SECONDLY_ROLLING
  "5xx"      500 / 502 (an HTML gateway page, as load balancers send) / 503
  "timeout"  in-process `httpx.ReadTimeout`; on loopback the server stalls `timeout_delay` seconds.
             timeout_mode "before": nothing was processed; "after": the request (a write too) WAS
             applied and only the answer is lost, the ambiguous case idempotency keys exist for.
Faults are transient: the same request succeeds on a later try (`max_consecutive` caps the streak).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Literal

import httpx

from connectors.sandbox.api.common import PLATFORMS, Call, json_response
from connectors.sandbox.api.google_ads import ads_error, google_error_body
from connectors.sandbox.api.hubspot import correlation_id
from connectors.sandbox.api.meta import meta_error_body

FAULT_KINDS: tuple[str, ...] = ("429", "throttle", "5xx", "timeout")
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
SERVER_ERRORS: tuple[int, ...] = (500, 502, 503)
_GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    b"</body></html>\n"
)


@dataclass(frozen=True)
class FaultConfig:
    rate: float  # probability that a request fails, 0..1
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    timeout_mode: Literal["before", "after"] = "before"
    retry_after: int = (
        0  # seconds: Retry-After, Google retryDelay, Meta regain-access (as minutes, rounded up)
    )
    timeout_delay: float = 1.0  # loopback only: how long the server stalls on a timeout fault
    platforms: tuple[str, ...] | None = None  # None = every platform
    max_consecutive: int | None = None  # after this many faults in a row, the same request goes through

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"FaultConfig.rate must be within [0, 1], got {self.rate}")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(
                f"FaultConfig.kinds must be a non-empty subset of {FAULT_KINDS}, got {self.kinds}"
            )
        if self.timeout_mode not in ("before", "after"):
            raise ValueError(
                f"FaultConfig.timeout_mode must be 'before' or 'after', got {self.timeout_mode!r}"
            )
        if self.platforms is not None and set(self.platforms) - set(PLATFORMS):
            raise ValueError(f"FaultConfig.platforms must be within {PLATFORMS}, got {self.platforms}")
        if self.retry_after < 0 or self.timeout_delay < 0:
            raise ValueError("FaultConfig.retry_after and timeout_delay must not be negative")


@dataclass(frozen=True)
class Fault:
    kind: str
    variant: int  # which 5xx status / which Meta throttle code


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._streaks: dict[str, int] = {}

    def draw(self, call: Call) -> Fault | None:
        config = self.config
        if config.platforms is not None and call.platform not in config.platforms:
            return None
        key = call.request_id("fault")
        failed = self._rng.random() < config.rate
        if (
            failed
            and config.max_consecutive is not None
            and self._streaks.get(key, 0) >= config.max_consecutive
        ):
            failed = False
        if not failed:
            self._streaks.pop(key, None)
            return None
        self._streaks[key] = self._streaks.get(key, 0) + 1
        return Fault(kind=self._rng.choice(config.kinds), variant=self._rng.randrange(3))

    def response(self, fault: Fault, call: Call) -> httpx.Response:
        """The platform's answer for a 429 / throttle / 5xx fault, or a 504 for a stalled request."""
        if fault.kind == "timeout":
            return httpx.Response(
                504, headers={"content-type": "text/plain"}, content=b"upstream request timeout"
            )
        if fault.kind == "5xx":
            status = SERVER_ERRORS[fault.variant % len(SERVER_ERRORS)]
            if status == 502:
                return httpx.Response(
                    502, headers={"content-type": "text/html; charset=UTF-8"}, content=_GATEWAY_HTML
                )
            return _SERVER_ERROR[call.platform](status, call)
        retry_after = self.config.retry_after
        if call.platform == "meta":
            return _meta_limit(fault, call, retry_after)
        if call.platform == "google_ads":
            return _google_limit(fault, call, retry_after)
        return _hubspot_limit(fault, call, retry_after)


def _meta_limit(fault: Fault, call: Call, retry_after: int) -> httpx.Response:
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


def _google_limit(fault: Fault, call: Call, retry_after: int) -> httpx.Response:
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


def _hubspot_limit(fault: Fault, call: Call, retry_after: int) -> httpx.Response:
    body = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(call),
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    headers = {"x-hubspot-ratelimit-remaining": "0"}
    if fault.kind == "429":
        headers["retry-after"] = str(retry_after)
    return json_response(429, body, headers, content_type="application/json;charset=utf-8")


def _meta_server_error(status: int, call: Call) -> httpx.Response:
    trace = call.request_id("fbtrace")[:11]
    if status == 503:
        body = meta_error_body("(#2) Service temporarily unavailable", 2, trace, is_transient=True)
    else:
        body = meta_error_body("An unknown error occurred", 1, trace, subcode=99, is_transient=True)
    return json_response(status, body)


def _google_server_error(status: int, call: Call) -> httpx.Response:
    if status == 503:
        error = ads_error({"internalError": "TRANSIENT_ERROR"}, "The service is currently unavailable.")
        body = google_error_body(
            503, "UNAVAILABLE", "The service is currently unavailable.", [error], call.request_id("google")
        )
    else:
        error = ads_error({"internalError": "INTERNAL_ERROR"}, "An internal error has occurred.")
        body = google_error_body(
            500, "INTERNAL", "Internal error encountered.", [error], call.request_id("google")
        )
    return json_response(status, body)


def _hubspot_server_error(status: int, call: Call) -> httpx.Response:
    message = "Service Unavailable" if status == 503 else "internal error"
    body = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(call),
        "category": "INTERNAL_ERROR",
    }
    return json_response(status, body, content_type="application/json;charset=utf-8")


_SERVER_ERROR = {
    "meta": _meta_server_error,
    "google_ads": _google_server_error,
    "hubspot": _hubspot_server_error,
}
