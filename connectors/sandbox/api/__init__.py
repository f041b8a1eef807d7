"""Fake platform APIs (Meta Graph, Google Ads REST, HubSpot CRM v3) served from the sandbox world.

In-process (default): `httpx.Client(transport=sandbox_transport(state), base_url=BASE_URLS["meta"])`.
Loopback: `serve(state, port=8765)` and `loopback_base_urls("127.0.0.1", 8765)`.

Tokens: any non-empty token reads every tenant on Meta and Google Ads; `sandbox-<tenant_id>` confines
the caller to that tenant and is REQUIRED on HubSpot, where it selects the tenant's portal.
Writes carrying `X-Idempotency-Key` are applied once. See docs/INTERFACES.md §2.
"""

from connectors.sandbox.api.app import AppliedWrite, Outcome, SandboxAPI, sandbox_transport
from connectors.sandbox.api.common import (
    BASE_URLS,
    IDEMPOTENCY_HEADER,
    LOOPBACK_PREFIXES,
    SandboxLimits,
    loopback_base_urls,
    sandbox_token,
)
from connectors.sandbox.api.faults import FAULT_KINDS, FaultConfig
from connectors.sandbox.api.server import SandboxServer, serve

__all__ = [
    "BASE_URLS",
    "FAULT_KINDS",
    "IDEMPOTENCY_HEADER",
    "LOOPBACK_PREFIXES",
    "AppliedWrite",
    "FaultConfig",
    "Outcome",
    "SandboxAPI",
    "SandboxLimits",
    "SandboxServer",
    "loopback_base_urls",
    "sandbox_token",
    "sandbox_transport",
    "serve",
]
