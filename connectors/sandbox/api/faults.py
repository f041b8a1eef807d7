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

import random
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from connectors.sandbox.api.common import PLATFORMS, Call

FAULT_KINDS: tuple[str, ...] = ("429", "throttle", "5xx", "timeout")
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
    kind: str  # "429" | "throttle" (each platform renders its own body) | "5xx" | "timeout"
    variant: int  # which 5xx status / which throttle code; platforms pick with `variant % n`


class FaultAnswerer(Protocol):
    """What a platform handler implements so faults speak its dialect (every handler does)."""

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response: ...
    def server_error(self, status: int, call: Call) -> httpx.Response: ...


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

    def response(self, fault: Fault, call: Call, handler: FaultAnswerer) -> httpx.Response:
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
            return handler.server_error(status, call)
        return handler.limit_response(fault, call, self.config.retry_after)
