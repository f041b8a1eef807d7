"""Contract: the executor drives the real connector clients (over an in-memory HTTP transport).

The transport plays a minimal Meta Graph API and Google Ads REST API in their wire formats, so this
proves that `MetaAdsClient` and `GoogleAdsClient` satisfy activations.ports and that the requests the
executor causes are the ones PLATFORMS.md describes: status writes carrying `X-Idempotency-Key`, a
Google `validateOnly` dry run without one, and a read back after every write.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from activations.decisions import Decision, make_decision_id
from activations.executor import execute
from activations.ports import GoogleAdsPort, MetaAdsPort, PlatformClients
from connectors.google_ads import GoogleAdsClient
from connectors.meta_ads import MetaAdsClient

NOW = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)
AS_OF = date(2026, 3, 14)
CID = "1234567890"
META_TOKEN = "EAAB-very-secret"
GOOGLE_TOKEN = "ya29.very-secret"
DEV_TOKEN = "dev-very-secret"


class FakePlatforms:
    """Just enough of both APIs: object status reads and writes, GAQL by resource name, mutate."""

    def __init__(self) -> None:
        self.meta = {"101": "ACTIVE", "102": "ACTIVE"}
        self.google = {f"customers/{CID}/adGroupAds/55~901": "ENABLED"}
        self.requests: list[httpx.Request] = []
        self.meta_fail = {"102"}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host == "graph.facebook.com":
            object_id = path.rsplit("/", 1)[-1]
            if object_id in self.meta_fail and request.method == "POST":
                body = {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}}
                return httpx.Response(400, json=body)
            if request.method == "GET":
                return httpx.Response(200, json={"id": object_id, "status": self.meta[object_id]})
            form = parse_qs(request.content.decode())
            self.meta[object_id] = form["status"][0]
            return httpx.Response(200, json={"success": True})
        body = json.loads(request.content)
        if path.endswith("googleAds:searchStream"):
            (resource,) = re.findall(r"resource_name = '([^']+)'", body["query"])
            rows = [{"adGroupAd": {"resourceName": resource, "status": self.google[resource]}}]
            return httpx.Response(
                200, json=[{"results": rows, "fieldMask": "adGroupAd.status", "requestId": "q1"}]
            )
        if path.endswith("adGroupAds:mutate"):
            results = []
            for op in body["operations"]:
                update = op["update"]
                if not body["validateOnly"]:
                    self.google[update["resourceName"]] = update["status"]
                results.append({"resourceName": update["resourceName"]})
            return httpx.Response(200, json={} if body["validateOnly"] else {"results": results})
        return httpx.Response(
            404, json={"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
        )

    def writes(self) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and "searchStream" not in r.url.path
            and not (r.content.startswith(b"{") and json.loads(r.content).get("validateOnly"))
        ]


def _decision(platform: str, account: str, ad_id: str, ad_group: str | None = None) -> Decision:
    return Decision(
        decision_id=make_decision_id(
            policy="pause_high_cpa",
            policy_version="1",
            tenant_id="northwind",
            platform=platform,
            entity_type="ad",
            entity_id=ad_id,
            action="pause_ad",
            as_of=AS_OF,
        ),
        policy="pause_high_cpa",
        policy_version="1",
        tenant_id="northwind",
        platform=platform,
        account_id=account,
        action="pause_ad",
        entity_type="ad",
        entity_id=ad_id,
        campaign_id="7",
        ad_group_id=ad_group,
        as_of=AS_OF,
        reason="bad",
    )


@pytest.fixture
def world() -> FakePlatforms:
    return FakePlatforms()


@pytest.fixture
def clients(world: FakePlatforms):
    transport = httpx.MockTransport(world.handle)
    meta = MetaAdsClient(META_TOKEN, "act_222", transport=transport, sleep=lambda _s: None)
    google = GoogleAdsClient(GOOGLE_TOKEN, DEV_TOKEN, CID, transport=transport, sleep=lambda _s: None)
    yield PlatformClients(meta={"222": meta}, google_ads={CID: google})
    meta.close()
    google.close()


DECISIONS = [
    _decision("meta", "222", "101"),
    _decision("meta", "222", "102"),  # the platform rejects this write
    _decision("google_ads", "123-456-7890", "901", ad_group="55"),
]


def test_real_clients_satisfy_the_ports(clients: PlatformClients) -> None:
    assert isinstance(clients.meta["222"], MetaAdsPort)
    assert isinstance(clients.google_ads[CID], GoogleAdsPort)


def test_dry_run_with_real_clients_validates_google_and_writes_nothing(world, clients) -> None:
    report = execute(DECISIONS, clients=clients, dry_run=True, run_id="r1", now=NOW)
    assert [r.status for r in report.results] == ["proposed", "proposed", "proposed"]
    assert world.writes() == []
    (validation,) = world.requests  # Meta has no validate-only here: nothing sent at all
    assert json.loads(validation.content)["validateOnly"] is True
    assert "x-idempotency-key" not in validation.headers
    assert world.meta == {"101": "ACTIVE", "102": "ACTIVE"}


def test_live_run_with_real_clients_applies_once_and_audits(world, clients) -> None:
    first = execute(DECISIONS, clients=clients, dry_run=False, run_id="r1", now=NOW)
    assert [r.status for r in first.results] == ["applied", "failed", "applied"]
    assert "Invalid parameter" in first.results[1].detail
    assert world.meta["101"] == "PAUSED" and world.google[f"customers/{CID}/adGroupAds/55~901"] == "PAUSED"

    writes = world.writes()
    keys = [w.headers.get("x-idempotency-key") for w in writes]
    assert DECISIONS[0].decision_id in keys and DECISIONS[2].decision_id in keys
    google_write = next(w for w in writes if w.url.path.endswith("adGroupAds:mutate"))
    assert json.loads(google_write.content)["operations"] == [
        {
            "update": {"resourceName": f"customers/{CID}/adGroupAds/55~901", "status": "PAUSED"},
            "updateMask": "status",
        }
    ]

    n_writes = len(writes)
    second = execute(DECISIONS, clients=clients, dry_run=False, run_id="r2", now=NOW)
    assert [r.status for r in second.results] == ["applied", "failed", "applied"]
    assert [a.outcome for a in second.audit] == ["already_applied", "failed", "already_applied"]
    assert len(world.writes()) == n_writes + 1  # only the rejected one is tried again

    audit_text = json.dumps([a.request for a in first.audit + second.audit]) + " ".join(
        a.detail for a in first.audit + second.audit
    )
    for secret in (META_TOKEN, GOOGLE_TOKEN, DEV_TOKEN):
        assert secret not in audit_text
