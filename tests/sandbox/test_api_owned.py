"""Fake Mailchimp and social-listening APIs: auth, paging, filters and each platform's fault dialect."""

from __future__ import annotations

import base64
from datetime import datetime

import httpx
import polars as pl
import pytest

from connectors.sandbox.api import FaultConfig, SandboxAPI
from connectors.sandbox.api.faults import Fault
from connectors.sandbox.api.mailchimp import mailchimp_key
from connectors.sandbox.world import World

MAILCHIMP = "https://us21.api.mailchimp.com/3.0"
SOCIAL = "https://api.social.sandbox/v1"


class _State:
    def __init__(self, world: World) -> None:
        self.world, self.today, self.world_dir = world, world.meta.end_date, None


@pytest.fixture(scope="module")
def api(tiny_world: World) -> SandboxAPI:
    return SandboxAPI(_State(tiny_world))


@pytest.fixture(scope="module")
def client(api: SandboxAPI) -> httpx.Client:
    return httpx.Client(transport=api.transport())


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"any:{key}".encode()).decode()}


def test_mailchimp_key_selects_the_tenant_and_its_data_centre(client: httpx.Client) -> None:
    missing = client.get(f"{MAILCHIMP}/reports")
    assert missing.status_code == 401 and missing.json()["title"] == "API Key Missing"
    assert missing.headers["content-type"].startswith("application/problem+json")
    wrong_dc = client.get(
        "https://us5.api.mailchimp.com/3.0/reports", headers=_basic(mailchimp_key("northwind"))
    )
    assert wrong_dc.status_code == 401 and wrong_dc.json()["title"] == "API Key Invalid"
    root = client.get(f"{MAILCHIMP}/", headers=_basic(mailchimp_key("northwind"))).json()
    assert root["account_name"] == "Northwind Outfitters" and len(root["account_id"]) == 25


def test_mailchimp_reports_page_by_offset_and_filter_by_send_time(
    client: httpx.Client, api: SandboxAPI
) -> None:
    headers = _basic(mailchimp_key("bellavista"))
    first = client.get(f"{MAILCHIMP}/reports", params={"count": 5}, headers=headers).json()
    total = first["total_items"]
    ids: list[str] = []
    for offset in range(0, total, 5):
        page = client.get(
            f"{MAILCHIMP}/reports", params={"count": 5, "offset": offset}, headers=headers
        ).json()
        ids += [r["id"] for r in page["reports"]]
    world = api.access.world
    from connectors.sandbox.api.owned_world import owned_table

    table = owned_table(api.access, "email_campaigns").filter(pl.col("tenant_id") == "bellavista")
    assert sorted(ids) == sorted(table["email_campaign_id"].to_list()) and len(set(ids)) == total
    assert world is api.access.world
    since = "2026-10-01T00:00:00+00:00"
    recent = client.get(
        f"{MAILCHIMP}/reports", params={"since_send_time": since, "count": 1000}, headers=headers
    )
    expected = table.filter(pl.col("send_time") >= datetime(2026, 10, 1)).height
    assert recent.json()["total_items"] == expected > 0
    one = table.row(0, named=True)
    report = client.get(f"{MAILCHIMP}/reports/{one['email_campaign_id']}", headers=headers).json()
    assert (
        report["emails_sent"] == one["emails_sent"]
        and report["clicks"]["unique_clicks"] == one["unique_clicks"]
    )
    assert report["bounces"]["hard_bounces"] == one["hard_bounces"]
    assert client.get(f"{MAILCHIMP}/reports/ffffffffff", headers=headers).status_code == 404
    bad = client.get(f"{MAILCHIMP}/reports", params={"count": 5000}, headers=headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "count"


def test_mailchimp_throttles_are_a_429_problem_or_an_html_403(api: SandboxAPI) -> None:
    call_api = SandboxAPI(
        api.state, FaultConfig(rate=1.0, seed=1, kinds=("throttle",), platforms=("mailchimp",))
    )
    edge = httpx.Client(transport=call_api.transport()).get(
        f"{MAILCHIMP}/reports", headers=_basic(mailchimp_key("northwind"))
    )
    assert edge.status_code == 403 and edge.headers["content-type"] == "text/html"
    handler = api.mailchimp
    from connectors.sandbox.api.app import _route

    call = _route(httpx.Request("GET", f"{MAILCHIMP}/reports"))
    assert call is not None
    limited = handler.limit_response(Fault("429", 0), call, 3)
    assert limited.status_code == 429 and "10 simultaneous connections" in limited.json()["detail"]


def test_social_cursor_paging_ends_without_next(client: httpx.Client, api: SandboxAPI) -> None:
    headers = {"Authorization": "Bearer sandbox-northwind"}
    accounts = client.get(f"{SOCIAL}/accounts", headers=headers).json()["data"]
    assert {a["platform"] for a in accounts} == {"instagram", "facebook", "tiktok", "linkedin"}
    instagram = next(a["id"] for a in accounts if a["platform"] == "instagram")
    url: str | None = f"{SOCIAL}/accounts/{instagram}/posts?limit=7"
    ids, pages = [], 0
    while url:
        body = client.get(url, headers=headers).json()
        ids += [p["id"] for p in body["data"]]
        url = body.get("paging", {}).get("next")
        pages += 1
    from connectors.sandbox.api.owned_world import owned_table

    posts = owned_table(api.access, "social_posts").filter(
        (pl.col("tenant_id") == "northwind") & (pl.col("platform") == "instagram")
    )
    assert sorted(ids) == sorted(posts["post_id"].to_list()) and pages == -(-posts.height // 7)


def test_social_auth_query_and_throttle_dialect(client: httpx.Client, api: SandboxAPI) -> None:
    assert client.get(f"{SOCIAL}/mentions?q=x").json()["error"]["code"] == 104
    assert client.get(f"{SOCIAL}/mentions?q=x", headers={"Authorization": "Bearer nope"}).status_code == 401
    headers = {"Authorization": "Bearer sandbox-northwind"}
    assert client.get(f"{SOCIAL}/mentions", headers=headers).status_code == 400  # q is required
    found = client.get(f"{SOCIAL}/mentions?q=North%20Wind&limit=100", headers=headers).json()
    assert found["data"] and all(m["author"]["username"] for m in found["data"])
    faulty = SandboxAPI(api.state, FaultConfig(rate=1.0, seed=3, kinds=("throttle",), platforms=("social",)))
    throttled = httpx.Client(transport=faulty.transport()).get(f"{SOCIAL}/influencers", headers=headers)
    assert throttled.status_code == 400 and throttled.json()["error"]["code"] in (17, 32, 613)
    assert "x-app-usage" in throttled.headers
