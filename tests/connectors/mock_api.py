"""Scripted httpx.MockTransport handlers and a fake sleep for the connector tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Responder = Callable[[httpx.Request], httpx.Response] | httpx.Response | Exception


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """A MockTransport handler answering from a script: one responder per call, in order; the last one
    repeats. Responders are responses, exceptions (raised with the request attached) or callables."""

    def __init__(self, *responders: Responder) -> None:
        self.responders = list(responders)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        i = min(len(self.requests) - 1, len(self.responders) - 1)
        r = self.responders[i]
        if isinstance(r, Exception):
            if isinstance(r, httpx.RequestError):
                raise type(r)(str(r), request=request)
            raise r
        if callable(r) and not isinstance(r, httpx.Response):
            return r(request)
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


class Sleeps(list):
    """Records the waits a client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
