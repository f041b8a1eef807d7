"""Mailchimp and social clients against their fake APIs: every page read, exact numbers, every fault
survived with the same totals and no duplicate, landed pages, secrets kept out of errors."""

from __future__ import annotations

import json

import httpx
import polars as pl
import pytest

from connectors.errors import AuthError, RateLimitedError
from connectors.landing import LandingZone, read_page
from connectors.mailchimp import MailchimpClient, MailchimpSettings, classify_mailchimp
from connectors.sandbox.api import FaultConfig, SandboxAPI
from connectors.sandbox.api.owned_world import owned_table
from connectors.sandbox.generator import generate_world
from connectors.social import SocialClient, SocialSettings, classify_social

KEY = "sandbox-northwind-us21"
TOKEN = "sandbox-northwind"


class _State:
    def __init__(self, world) -> None:
        self.world, self.today, self.world_dir = world, world.meta.end_date, None


@pytest.fixture(scope="module")
def state() -> _State:
    return _State(generate_world("tiny", 7))


def _world(state: _State, name: str) -> pl.DataFrame:
    api = SandboxAPI(state)
    return owned_table(api.access, name).filter(pl.col("tenant_id") == "northwind")


def _mailchimp(
    state: _State, faults: FaultConfig | None = None, landing: LandingZone | None = None
) -> MailchimpClient:
    return MailchimpClient(
        KEY,
        transport=SandboxAPI(state, faults).transport(),
        tenant_id="northwind",
        landing=landing,
        settings=MailchimpSettings(page_size=6),
        sleep=lambda _: None,
    )


def _social(
    state: _State, faults: FaultConfig | None = None, landing: LandingZone | None = None
) -> SocialClient:
    return SocialClient(
        TOKEN,
        transport=SandboxAPI(state, faults).transport(),
        tenant_id="northwind",
        landing=landing,
        settings=SocialSettings(page_size=40),
        sleep=lambda _: None,
    )


def _social_frames(client: SocialClient) -> dict[str, pl.DataFrame]:
    with client:
        return {
            "posts": client.fetch_posts()[0],
            "mentions": client.fetch_mentions("northwind")[0],
            "influencers": client.fetch_influencers()[0],
        }


def test_mailchimp_reads_every_page_with_exact_counts(state: _State, tmp_path) -> None:
    landing = LandingZone(tmp_path)
    with _mailchimp(state, landing=landing) as client:
        frame, pages = client.fetch_reports()
    world = _world(state, "email_campaigns")
    assert pages == -(-world.height // 6) and frame.height == world.height
    got = frame.sort("campaign_id")
    want = world.sort("email_campaign_id")
    assert got["campaign_id"].to_list() == want["email_campaign_id"].to_list()
    for column in ("emails_sent", "hard_bounces", "soft_bounces", "unsubscribed", "abuse_reports",
                   "opens_total", "unique_opens", "clicks_total", "unique_clicks"):  # fmt: skip
        assert got[column].to_list() == want[column].to_list(), column
    assert got["send_time"].to_list() == want["send_time"].dt.truncate("1s").to_list()
    assert got["account_id"].unique().to_list() == [want["account_id"][0]]
    landed = sorted((tmp_path / "mailchimp_email_reports" / "northwind" / "all").glob("*.json.gz"))
    assert len(landed) == pages
    assert sum(len(json.loads(read_page(p))["reports"]) for p in landed) == world.height
    assert KEY not in "".join(
        p.with_name(p.name.replace(".json.gz", ".meta.json")).read_text() for p in landed
    )


def test_mailchimp_incremental_rereads_the_window_and_every_automation(state: _State) -> None:
    from datetime import datetime

    since = datetime(2026, 10, 1)
    with _mailchimp(state) as client:
        frame, _ = client.fetch_reports(since_send_time=since)
    world = _world(state, "email_campaigns")
    expected = world.filter((pl.col("send_time") >= since) | (pl.col("type") == "automation"))
    assert sorted(frame["campaign_id"]) == sorted(expected["email_campaign_id"])


def test_social_reads_every_page_with_exact_numbers(state: _State, tmp_path) -> None:
    frames = _social_frames(_social(state, landing=LandingZone(tmp_path)))
    posts, mentions = _world(state, "social_posts"), _world(state, "social_mentions")
    assert frames["posts"].height == posts.height and frames["mentions"].height == mentions.height
    for column in ("reach", "impressions", "likes", "comments", "shares", "saves", "link_clicks"):
        assert frames["posts"][column].sum() == posts[column].sum(), column
    got = frames["mentions"].sort("mention_id")
    want = mentions.sort("mention_id")
    assert got["text"].to_list() == want["text"].to_list()
    assert got["author_followers"].to_list() == want["author_followers"].to_list()
    assert (
        frames["influencers"]["engagement_rate"].to_list()
        == _world(state, "influencers").sort("influencer_id")["engagement_rate"].to_list()
    )
    assert len(list((tmp_path / "social_posts" / "northwind").glob("*/*.json.gz"))) > 4  # every account paged


@pytest.mark.parametrize("kind", ["429", "throttle", "5xx", "timeout"])
def test_each_fault_kind_loads_the_fault_free_totals(state: _State, kind: str) -> None:
    faults = FaultConfig(rate=0.4, seed=11, kinds=(kind,), max_consecutive=3)
    with _mailchimp(state) as clean, _mailchimp(state, faults) as faulty:
        want, got = clean.fetch_reports()[0], faulty.fetch_reports()[0]
    assert got.sort("campaign_id").equals(want.sort("campaign_id"))
    assert got["campaign_id"].is_unique().all()
    social_clean = _social_frames(_social(state))
    social_faulty = _social_frames(_social(state, faults))
    keys = {"posts": "post_id", "mentions": "mention_id", "influencers": "influencer_id"}
    for name, frame in social_clean.items():
        key = keys[name]
        assert social_faulty[name].sort(key).equals(frame.sort(key)), name
        assert social_faulty[name][key].is_unique().all()


def test_a_403_without_json_is_a_throttle_and_a_403_problem_is_an_auth_error() -> None:
    request = httpx.Request("GET", "https://us21.api.mailchimp.com/3.0/reports")
    edge = httpx.Response(
        403, headers={"content-type": "text/html"}, content=b"<html>denied</html>", request=request
    )
    decision = classify_mailchimp(edge)
    assert decision is not None and decision.retryable and decision.error is RateLimitedError
    problem = httpx.Response(
        403,
        headers={"content-type": "application/problem+json"},
        content=b'{"title": "Forbidden", "status": 403, "detail": "no access"}',
        request=request,
    )
    decision = classify_mailchimp(problem)
    assert decision is not None and not decision.retryable and decision.error is AuthError
    graph = httpx.Response(400, json={"error": {"code": 613, "message": "rate"}}, request=request)
    assert classify_social(graph).error is RateLimitedError


def test_a_wrong_key_fails_without_leaking_it(state: _State) -> None:
    with (
        pytest.raises(AuthError) as info,
        MailchimpClient(
            "sandbox-nobody-us21", transport=SandboxAPI(state).transport(), tenant_id="northwind"
        ) as client,
    ):
        client.fetch_reports()
    assert "sandbox-nobody" not in str(info.value) and "sandbox-nobody" not in repr(info.value)
    with pytest.raises(AuthError):
        MailchimpClient("no-data-centre-suffix-", tenant_id="northwind")
