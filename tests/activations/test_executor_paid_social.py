"""The executor pushes LinkedIn and TikTok decisions through the real clients to the fake APIs: dry run
sends nothing, live reads / writes once / reads back, a repeat is a no-op, faults never apply twice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from activations.decisions import Decision, make_decision_id
from activations.executor import execute
from activations.ports import LinkedInAdsPort, PlatformClients, TikTokAdsPort
from connectors.http import RetryPolicy
from connectors.linkedin_ads import LinkedInAdsClient
from connectors.sandbox.api import FaultConfig, SandboxAPI, sandbox_token
from connectors.tiktok_ads import TikTokAdsClient
from tests.support.paid_social_world import paid_social_state

NOW = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
AS_OF = date(2026, 10, 31)
RETRY = RetryPolicy(max_attempts=12, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def state(tiny_world_root, tmp_path) -> Any:
    return paid_social_state(tiny_world_root, tmp_path)


def decision(
    platform: str, account: str, action: str, entity_type: str, entity_id: str, **evidence
) -> Decision:
    return Decision(
        decision_id=make_decision_id(policy="test", policy_version="1", tenant_id="northwind", platform=platform,
                                     entity_type=entity_type, entity_id=entity_id, action=action, as_of=AS_OF),
        policy="test", policy_version="1", tenant_id="northwind", platform=platform, account_id=account,
        action=action, entity_type=entity_type, entity_id=entity_id, campaign_id=None, ad_group_id=None,
        as_of=AS_OF, reason="test", evidence=dict(evidence),
    )  # fmt: skip


def setup(state: Any, api: SandboxAPI) -> tuple[PlatformClients, list[Decision], dict[str, Any]]:
    world = state.world
    nw = pl.col("tenant_id") == "northwind"
    li_acct = world.accounts.filter(nw & (pl.col("platform") == "linkedin"))["account_id"].item()
    tt_acct = world.accounts.filter(nw & (pl.col("platform") == "tiktok"))["account_id"].item()
    active = pl.col("status") == "ACTIVE"
    li_group = (
        world.ad_groups.filter((pl.col("account_id") == li_acct) & active)
        .sort("ad_group_id")
        .row(0, named=True)
    )
    li_ad = world.ads.filter((pl.col("account_id") == li_acct) & active).sort("ad_id").row(0, named=True)
    tt_groups = world.ad_groups.filter((pl.col("account_id") == tt_acct) & active).sort("ad_group_id")
    tt_ad = world.ads.filter((pl.col("account_id") == tt_acct) & active).sort("ad_id").row(0, named=True)
    token = sandbox_token("northwind")
    kw = {"transport": api.transport(), "tenant_id": "northwind", "retry": RETRY, "sleep": lambda _: None}
    clients = PlatformClients(
        linkedin={f"urn:li:sponsoredAccount:{li_acct}": LinkedInAdsClient(token, li_acct, **kw)},
        tiktok={tt_acct: TikTokAdsClient(token, tt_acct, **kw)},
    )
    new_budget = f"{max(tt_groups['daily_budget'][1], 20.0) + 11.5:.2f}"  # above TikTok's 20.00 minimum
    decisions = [
        decision("linkedin", li_acct, "pause_ad_group", "ad_group", li_group["ad_group_id"]),
        decision("linkedin", li_acct, "set_daily_budget", "ad_group", li_group["ad_group_id"], new_daily_budget="42.50"),
        decision("linkedin", li_acct, "pause_ad", "ad", li_ad["ad_id"]),
        decision("tiktok", tt_acct, "pause_ad_group", "ad_group", tt_groups["ad_group_id"][0]),
        decision("tiktok", tt_acct, "set_daily_budget", "ad_group", tt_groups["ad_group_id"][1], new_daily_budget=new_budget),
        decision("tiktok", tt_acct, "pause_ad", "ad", tt_ad["ad_id"]),
    ]  # fmt: skip
    ids = {"li_group": li_group["ad_group_id"], "li_ad": li_ad["ad_id"], "tt_group": tt_groups["ad_group_id"][0],
           "tt_budget_group": tt_groups["ad_group_id"][1], "tt_budget": float(new_budget), "tt_ad": tt_ad["ad_id"]}  # fmt: skip
    return clients, decisions, ids


def test_real_clients_satisfy_the_ports():
    assert issubclass(LinkedInAdsClient, LinkedInAdsPort) and issubclass(TikTokAdsClient, TikTokAdsPort)


def test_dry_run_sends_no_write(state):
    api = SandboxAPI(state)
    clients, decisions, _ = setup(state, api)
    report = execute(decisions, clients=clients, dry_run=True, run_id="dry", now=NOW)
    assert [r.status for r in report.results] == ["proposed"] * 6
    assert api.applied_writes == []
    assert all(a.outcome == "dry_run" and a.request[0]["sent"] is False for a in report.audit)


def test_live_run_applies_once_reads_back_and_a_repeat_writes_nothing(state):
    api = SandboxAPI(
        state, FaultConfig(rate=0.4, seed=3, kinds=("timeout", "5xx", "throttle"), timeout_mode="after")
    )
    clients, decisions, ids = setup(state, api)
    report = execute(decisions, clients=clients, dry_run=False, run_id="live", now=NOW)
    assert [r.status for r in report.results] == ["applied"] * 6, [r.detail for r in report.results]
    world = state.world
    status = dict(world.ad_groups.select("ad_group_id", "status").iter_rows())
    budget = dict(world.ad_groups.select("ad_group_id", "daily_budget").iter_rows())
    ad_status = dict(world.ads.select("ad_id", "status").iter_rows())
    assert status[ids["li_group"]] == "PAUSED" and budget[ids["li_group"]] == 42.5
    assert status[ids["tt_group"]] == "PAUSED" and budget[ids["tt_budget_group"]] == ids["tt_budget"]
    assert ad_status[ids["li_ad"]] == "PAUSED" and ad_status[ids["tt_ad"]] == "PAUSED"
    writes = [(w.platform, w.entity_id, w.field) for w in api.applied_writes]
    assert len(writes) == len(set(writes)) == 6  # each decision applied exactly once, faults or not
    again = execute(decisions, clients=clients, dry_run=False, run_id="again", now=NOW)
    assert [a.outcome for a in again.audit] == ["already_applied"] * 6
    assert len(api.applied_writes) == 6


def test_refused_budget_and_unsupported_entities_fail_without_raising(state):
    api = SandboxAPI(state)
    clients, decisions, ids = setup(state, api)
    tt = decisions[4]
    low = decision(
        "tiktok",
        tt.account_id,
        "set_daily_budget",
        "ad_group",
        ids["tt_budget_group"],
        new_daily_budget="5.00",
    )
    bad = decision(
        "tiktok",
        tt.account_id,
        "set_daily_budget",
        "ad_group",
        ids["tt_budget_group"],
        new_daily_budget="abc",
    )
    camp = decision("linkedin", decisions[0].account_id, "pause_ad_group", "campaign", "610000001")
    # low and bad share a decision id (same entity and action): one batch would run only the first
    report = execute([low, camp], clients=clients, dry_run=False, run_id="bad", now=NOW)
    report.results[1:1] = execute([bad], clients=clients, dry_run=False, run_id="bad2", now=NOW).results
    assert [r.status for r in report.results] == ["failed"] * 3
    assert "at least" in report.results[0].detail and "new_daily_budget" in report.results[1].detail
    assert "unsupported action" in report.results[2].detail
    assert api.applied_writes == []
