"""Loopback server for the fake APIs (`mos sandbox serve`): stdlib ThreadingHTTPServer over `SandboxAPI`.

Each HTTP request becomes an `httpx.Request` for the same `SandboxAPI.dispatch` the in-process transport
uses, so both paths answer the same bytes. Platforms live under `/meta`, `/google-ads`, `/hubspot`
(see `loopback_base_urls`). A timeout fault stalls the answer for `FaultConfig.timeout_delay` seconds;
a drop fault closes the connection half way through the body.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from connectors.sandbox.api.app import Outcome, SandboxAPI
from connectors.sandbox.api.common import SandboxLimits, loopback_base_urls
from connectors.sandbox.api.faults import FaultConfig

log = logging.getLogger(__name__)
_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive", "content-encoding"}


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: SandboxAPI, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.api = api
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_urls(self) -> dict[str, str]:
        return loopback_base_urls(self.host, self.port)

    def start(self) -> SandboxServer:
        """Serve from a daemon thread; `stop()` (or leaving the `with` block) shuts it down."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: with Nagle's algorithm the body waits for the client's
    # (delayed) ACK of the head, ~40 ms a response on Linux loopback.
    disable_nagle_algorithm = True
    server: SandboxServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"{self.server.host}:{self.server.port}"
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        request = httpx.Request(self.command, f"http://{host}{self.path}", headers=headers, content=body)
        try:
            outcome = self.server.api.dispatch(request)
        except Exception:  # a sandbox bug: answer 500 rather than dropping the connection
            log.exception("sandbox api failed on %s %s", self.command, self.path)
            outcome = Outcome(httpx.Response(500, json={"error": "sandbox internal error (see server log)"}))
        if outcome.timed_out:
            faults = self.server.api.faults
            time.sleep(faults.timeout_delay if faults is not None else 0)
        response = outcome.response
        try:
            self.send_response(response.status_code)
            for key, value in response.headers.multi_items():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            if outcome.dropped:  # a "drop" fault: half the body, then the connection closes
                self.wfile.write(response.content[: len(response.content) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(response.content)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. after a timeout fault)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox api: " + format, *args)


def serve(
    state: Any,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultConfig | None = None,
    *,
    limits: SandboxLimits | None = None,
    background: bool = False,
) -> SandboxServer:
    """Serve the fake APIs on loopback. Blocks until interrupted unless `background=True`, which
    returns the running server (port 0 picks a free port; read it from `server.port`)."""
    server = SandboxServer(SandboxAPI(state, faults, limits=limits), host, port)
    if background:
        return server.start()
    log.info("sandbox APIs on %s", server.base_urls)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return server
