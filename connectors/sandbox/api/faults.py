"""Seeded fault injection for the fake APIs.

A seeded RNG decides per request whether it fails and how. Transport and status kinds (the default):
  "429"      HTTP 429 with `Retry-After` and the platform's rate-limit body
  "throttle" the platform's own throttle signal: Meta HTTP 400 with code 17/613/80004 and usage headers,
             Google 429 RESOURCE_EXHAUSTED with a retryDelay, HubSpot 429 TEN_SECONDLY_ROLLING
  "5xx"      500 / 502 (an HTML gateway page, as load balancers send) / 503
  "timeout"  in-process `httpx.ReadTimeout`; on loopback the server stalls `timeout_delay` seconds.
             timeout_mode "before": nothing was processed; "after": the request (a write too) WAS
             applied and only the answer is lost, the ambiguous case idempotency keys exist for.
Body kinds (issue 3: what real data does to a sync; opt-in through `kinds`):
  "drop"                  the connection drops mid-page (the request WAS processed): in-process an
                          `httpx.RemoteProtocolError` or a truncated JSON body; on loopback the socket
                          closes mid-body
  "duplicate"             the page repeats rows of the previous page (offset/cursor paging over data
                          that shifted), or of itself on a first page
  "restate"               the page is served as a later pull would see it: recent days' conversions
                          further matured (platforms restate up to 28 days; see `common.maturity`)
  "drift_new_column"      every row carries a field nobody asked for
  "drift_missing_column"  a field the connector needs is absent from every row
  "drift_text_number"     numeric fields arrive as text ("1,234.50", "12.3", "1.234,50")
Body kinds need the handler's `fault_rows(call)` hook (`RowFaultTarget`: the JSON path of the row list
and which fields are required / numeric); a platform without it gets those requests untouched.
Faults are transient: the same request succeeds on a later try (`max_consecutive` caps the streak).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from connectors.sandbox.api.common import PLATFORMS, Call, dumps_json

TRANSIENT_KINDS: tuple[str, ...] = ("429", "throttle", "5xx", "timeout")
BODY_KINDS: tuple[str, ...] = (
    "drop",
    "duplicate",
    "restate",
    "drift_new_column",
    "drift_missing_column",
    "drift_text_number",
)
FAULT_KINDS: tuple[str, ...] = TRANSIENT_KINDS + BODY_KINDS  # every kind a FaultConfig accepts
RESTATE_SHIFT_DAYS = 5  # a "restate" page is served as a pull this many days (x variant+1) later would be
SERVER_ERRORS: tuple[int, ...] = (500, 502, 503)
_GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    b"</body></html>\n"
)


@dataclass(frozen=True)
class FaultConfig:
    rate: float  # probability that a request fails, 0..1
    seed: int = 0
    kinds: tuple[str, ...] = TRANSIENT_KINDS
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
    kind: str  # one of FAULT_KINDS ("throttle": each platform renders its own body)
    variant: int  # which 5xx status / throttle code / text format / field; picked with `variant % n`

    @property
    def changes_body(self) -> bool:
        """A fault that serves the request and then alters (or drops) the answer."""
        return self.kind in BODY_KINDS


Path = tuple[str, ...]


@dataclass(frozen=True)
class RowFaultTarget:
    """Where a platform's answer keeps its rows, for the body faults (a handler's `fault_rows` hook).

    rows:      JSON path of the row list; "*" walks every element of a list (Google's stream batches)
    required:  fields (paths inside a row) the connector cannot do without: drift_missing_column drops one
    numeric:   numeric fields (strings or JSON numbers): drift_text_number sends them as formatted text
    new_field: what drift_new_column adds to every row (a path inside the row, and its value)
    """

    rows: Path
    required: tuple[Path, ...] = ()
    numeric: tuple[Path, ...] = ()
    new_field: tuple[Path, Any] = (("sandbox_unexpected_field",), "surprise")
    stream: str = ""  # rows of one paged listing share a stream: "duplicate" repeats the previous page's


class FaultAnswerer(Protocol):
    """What a platform handler implements so faults speak its dialect (every handler does)."""

    def limit_response(self, fault: Fault, call: Call, retry_after: int) -> httpx.Response: ...
    def server_error(self, status: int, call: Call) -> httpx.Response: ...


class RowFaultHook(Protocol):
    """Optional: a handler that names its row list opts in to the body faults."""

    def fault_rows(self, call: Call) -> RowFaultTarget | None: ...


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._streaks: dict[str, int] = {}
        self._previous_rows: dict[str, list[Any]] = {}  # last page's rows per stream ("duplicate")

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

    # ---- body faults ---------------------------------------------------------------------------
    def remember(self, target: RowFaultTarget | None, response: httpx.Response) -> None:
        """Keep the rows of a page served without a fault, so a later "duplicate" can repeat them."""
        if target is None or response.status_code != 200:
            return
        body = _json(response)
        if body is not None:
            lists = _row_lists(body, target.rows)
            if lists:
                self._previous_rows[target.stream] = list(lists[-1])

    def alter(self, fault: Fault, target: RowFaultTarget | None, response: httpx.Response) -> httpx.Response:
        """A served 2xx JSON answer with the body fault applied (anything else goes out untouched)."""
        if target is None or not 200 <= response.status_code < 300:
            return response
        body = _json(response)
        if body is None:
            return response
        body = copy.deepcopy(body)
        lists = _row_lists(body, target.rows)
        if not any(lists):
            return response
        variant = fault.variant
        if fault.kind == "duplicate":
            previous = self._previous_rows.get(target.stream)
            for index, rows in enumerate(lists):
                before = lists[index - 1] if index else previous
                if before:
                    rows[:0] = copy.deepcopy(before[-max(1, min(5, len(before) // 10)) :])
                else:
                    rows.extend(copy.deepcopy(rows[: max(1, min(5, len(rows) // 10))]))
        elif fault.kind == "drift_new_column":
            path, value = target.new_field
            for rows in lists:
                for row in rows:
                    _set(row, path, value)
        elif fault.kind == "drift_missing_column":
            first = lists[0][0] if lists[0] else next(r[0] for r in lists if r)
            present = [p for p in target.required if _has(first, p)]
            if not present:
                return response
            gone = present[variant % len(present)]
            for rows in lists:
                for row in rows:
                    _delete(row, gone)
        elif fault.kind == "drift_text_number":
            for rows in lists:
                for row in rows:
                    for path in target.numeric:
                        if _has(row, path):
                            _set(row, path, text_number(_get(row, path), variant))
        else:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, content=dumps_json(body))


def truncated(response: httpx.Response) -> httpx.Response:
    """The first half of an answer's body, as a dropped connection leaves it."""
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return httpx.Response(
        response.status_code, headers=headers, content=response.content[: len(response.content) // 2]
    )


def text_number(value: Any, variant: int) -> Any:
    """A number as a platform sometimes sends it in text: variant 0 "1,234.50" (comma groups), 1 the
    plain text of a JSON number ("12.3"), 2 "1.234,50" (dot groups, decimal comma). Always readable in
    exactly one way: a decimal part is kept whenever the value has one."""
    if isinstance(value, bool) or value is None:
        return value
    text = repr(value) if isinstance(value, float) else str(value)
    if "e" in text.lower() or not text.lstrip("-").replace(".", "", 1).isdigit():
        return text
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, frac = digits.partition(".")
    style = variant % 3
    if style == 1 and isinstance(value, str):
        # The platform already sends this number as plain text (TikTok, Meta's money): plain text
        # would be no drift at all, so it comes in dot groups with a decimal comma instead.
        style = 2
    if style == 1:
        return text
    group, decimal = (",", ".") if style == 0 else (".", ",")
    grouped = f"{int(whole):,}".replace(",", group)
    if style == 2 and not dot and len(whole) > 3:
        # "1.234" could be 1.234 or 1234: give an integer in dot groups only with a decimal part.
        return sign + grouped + ",0"
    if style == 0 and not dot and len(whole) > 3 and whole.endswith("000"):
        # "3,000" reads as 3000 or as 3.000 (= 3, a decimal comma): give such integers a decimal part.
        return sign + grouped + ".0"
    return sign + grouped + (decimal + frac if dot else "")


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _row_lists(body: Any, path: Path) -> list[list[Any]]:
    nodes = [body]
    for key in path:
        nxt: list[Any] = []
        for node in nodes:
            if key == "*" and isinstance(node, list):
                nxt.extend(node)
            elif isinstance(node, dict) and key in node:
                nxt.append(node[key])
        nodes = nxt
    return [n for n in nodes if isinstance(n, list)]


def _get(row: Any, path: Sequence[str]) -> Any:
    for key in path:
        row = row[key]
    return row


def _has(row: Any, path: Sequence[str]) -> bool:
    for key in path:
        if not isinstance(row, dict) or key not in row:
            return False
        row = row[key]
    return True


def _set(row: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        row = row.setdefault(key, {})
    row[path[-1]] = value


def _delete(row: dict[str, Any], path: Sequence[str]) -> None:
    for key in path[:-1]:
        row = row.get(key) or {}
    if isinstance(row, dict):
        row.pop(path[-1], None)
