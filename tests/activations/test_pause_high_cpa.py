"""The pause_high_cpa policy on hand-built marts frames."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from activations.decisions import make_decision_id
from activations.policies.pause_high_cpa import (
    POLICY,
    POLICY_VERSION,
    PauseHighCpaConfig,
    evaluate_pauses,
    propose_pauses,
)
from tests.activations.fakes import AS_OF, World


def _run(world: World, **config) -> list:
    perf, campaigns, ads = world.frames()
    return propose_pauses(perf, campaigns, ads, as_of=world.as_of, config=PauseHighCpaConfig(**config))


def _by_entity(decisions) -> dict[str, object]:
    return {d.entity_id: d for d in decisions}


def _proposed_ids(decisions) -> set[str]:
    return {d.entity_id for d in decisions if d.status == "proposed"}


# --- the rule -------------------------------------------------------------------------------------


def test_clearly_bad_ad_with_enough_spend_is_proposed_for_pause() -> None:
    world = World().campaign("c1", target_cpa=20.0)
    world.ad("bad", spend=400.0, conversions=2)  # CPA 200 = 10x target; 20 expected at target
    world.ad("good", spend=400.0, conversions=25)
    decisions = _run(world)

    assert _proposed_ids(decisions) == {"bad"}
    d = _by_entity(decisions)["bad"]
    assert (d.action, d.entity_type, d.policy, d.policy_version) == ("pause_ad", "ad", POLICY, POLICY_VERSION)
    assert (d.tenant_id, d.platform, d.account_id, d.campaign_id, d.ad_group_id) == (
        "northwind",
        "meta",
        "111",
        "c1",
        "g1",
    )
    ev = d.evidence
    assert ev["window"] == {
        "start": (AS_OF - timedelta(days=13)).isoformat(),
        "end": AS_OF.isoformat(),
        "days": 14,
    }
    assert ev["spend"] == pytest.approx(400.0)
    assert ev["conversions"] == 2
    assert ev["cpa"] == pytest.approx(200.0)
    assert ev["target_cpa"] == 20.0
    assert ev["ratio"] == pytest.approx(10.0)
    assert ev["currency"] == "USD"
    assert ev["p_value"] == pytest.approx(poisson.cdf(2, 20.0), rel=1e-6)
    assert ev["p_value"] < 0.05
    json.dumps(ev, allow_nan=False)  # evidence is plain JSON
    assert d.expected_impact["daily_spend_saved"] == pytest.approx(400.0 / 14, abs=0.01)
    assert "Ad bad" in d.reason and "Pause it" in d.reason and "USD" in d.reason


def test_high_cpa_but_too_little_spend_is_not_paused() -> None:
    world = World().campaign("c1", target_cpa=10.0)
    world.ad("thin", spend=25.0, conversions=1)  # CPA 2.5x target, but spend < 3 x target
    world.ad("good", spend=300.0, conversions=40)
    assert _run(world) == []


def test_zero_conversion_ad_with_little_spend_is_not_paused() -> None:
    world = World().campaign("c1", target_cpa=20.0)
    world.ad("new", spend=50.0, conversions=0)  # infinite CPA, only 2.5 conversions expected
    world.ad("good", spend=300.0, conversions=40)
    assert _run(world) == []
    # and the same ad once it has spent enough to be sure (P(0 | 7.5) ~ 0.0006)
    world2 = World().campaign("c1", target_cpa=20.0)
    world2.ad("new", spend=150.0, conversions=0)
    world2.ad("good", spend=300.0, conversions=40)
    assert _proposed_ids(_run(world2)) == {"new"}


def test_high_ratio_without_statistical_confidence_is_not_paused() -> None:
    # CPA 40 = 4x target, spend 4x target, but P(X <= 1 | 4 expected) = 0.09 > 0.05
    world = World().campaign("c1", target_cpa=10.0)
    world.ad("unlucky", spend=40.0, conversions=1)
    world.ad("good", spend=300.0, conversions=40)
    assert _run(world) == []


def test_significant_but_moderate_overspend_is_not_paused() -> None:
    # CPA 15 = 1.5x target: significant (P(X <= 20 | 30) ~ 0.035) but below the 2x ratio
    world = World().campaign("c1", target_cpa=10.0)
    world.ad("meh", spend=300.0, conversions=20)
    world.ad("good", spend=300.0, conversions=40)
    assert _run(world) == []


def test_fractional_conversions_are_rounded_up_for_the_test() -> None:
    # 0.4 conversions, 4.5 expected: P(X <= 1) = 0.061 (no pause); flooring to 0 would give 0.011.
    world = World().campaign("c1", target_cpa=10.0, platform="google_ads")
    world.ad("frac", spend=45.0, conversions=0.4, platform="google_ads")
    world.ad("good", spend=300.0, conversions=40, platform="google_ads")
    assert _run(world) == []


def test_only_the_window_counts() -> None:
    world = World().campaign("c1", target_cpa=20.0)
    world.ad("old_bad", spend=400.0, conversions=0, days_ago_offset=14)  # all before the window
    world.ad("good", spend=300.0, conversions=40)
    assert _run(world) == []
    assert _proposed_ids(_run(world, lookback_days=28)) == {"old_bad"}


def test_inactive_ads_and_campaigns_are_not_touched() -> None:
    world = World().campaign("c1", target_cpa=20.0).campaign("c2", target_cpa=20.0, status="PAUSED")
    world.ad("paused_ad", spend=400.0, conversions=0, status="PAUSED")
    world.ad("good", spend=300.0, conversions=40)
    world.ad("in_paused_campaign", spend=400.0, conversions=0, campaign="c2", ad_group="g2")
    world.ad("good2", spend=300.0, conversions=40, campaign="c2", ad_group="g2")
    assert _run(world) == []


def test_google_enabled_status_and_decimal_money_are_understood() -> None:
    world = World().campaign("c1", target_cpa=20.0, platform="google_ads", status="ENABLED")
    world.ad("bad", spend=400.0, conversions=0, platform="google_ads", status="ENABLED", account="1234567890")
    world.ad(
        "good", spend=400.0, conversions=40, platform="google_ads", status="ENABLED", account="1234567890"
    )
    perf, campaigns, ads = world.frames()
    perf = perf.with_columns(pl.col("spend").cast(pl.Decimal(18, 2)))
    decisions = propose_pauses(perf, campaigns, ads, as_of=AS_OF, config=PauseHighCpaConfig())
    assert _proposed_ids(decisions) == {"bad"}
    assert decisions[0].account_id == "1234567890"


# --- guardrails -----------------------------------------------------------------------------------


def test_last_active_ad_of_a_group_is_kept_best_one() -> None:
    world = World().campaign("c1", target_cpa=20.0)
    world.ad("worse", spend=600.0, conversions=0, ad_group="g1")
    world.ad("less_bad", spend=600.0, conversions=3, ad_group="g1")  # best of the two: keep it
    world.ad("paused", spend=50.0, conversions=10, ad_group="g1", status="PAUSED")  # not live: no help
    world.ad("solo", spend=600.0, conversions=0, ad_group="g2")  # the only ad of its group
    world.ad("good_g3", spend=300.0, conversions=40, ad_group="g3")
    decisions = _run(world)
    by = _by_entity(decisions)

    assert _proposed_ids(decisions) == {"worse"}
    assert by["less_bad"].status == "skipped" and by["less_bad"].evidence["guardrail"] == "last_active"
    assert by["solo"].status == "skipped" and "must keep one live ad" in by["solo"].reason
    assert "paused" not in by


def test_campaign_without_target_cpa_is_skipped_with_a_reason() -> None:
    world = World().campaign("c1", target_cpa=None).campaign("c2", target_cpa=20.0)
    world.ad("bad_no_target", spend=900.0, conversions=0, campaign="c1", ad_group="g1")
    world.ad("other", spend=900.0, conversions=0, campaign="c1", ad_group="g1")
    world.ad("bad", spend=400.0, conversions=0, campaign="c2", ad_group="g2")
    world.ad("good", spend=400.0, conversions=40, campaign="c2", ad_group="g2")
    perf, campaigns, ads = world.frames()
    result = evaluate_pauses(perf, campaigns, ads, as_of=AS_OF)

    assert _proposed_ids(result.decisions) == {"bad"}
    skipped = [d for d in result.decisions if d.status == "skipped"]
    assert len(skipped) == 1
    (skip,) = skipped
    assert (skip.entity_type, skip.entity_id, skip.campaign_id) == ("campaign", "c1", "c1")
    assert "no target CPA" in skip.reason and "2 active ad(s)" in skip.reason
    assert result.n_evaluated == 4


def test_zero_target_cpa_counts_as_missing() -> None:
    world = World().campaign("c1", target_cpa=0.0)
    world.ad("bad", spend=900.0, conversions=0)
    (only,) = _run(world)
    assert only.status == "skipped" and only.entity_type == "campaign"


def test_cap_per_tenant_keeps_the_worst_first() -> None:
    world = World()
    for tenant in ("northwind", "bellavista"):
        world.campaign("c1", target_cpa=10.0, tenant=tenant)
        for i in range(25):
            group = f"g{i}"
            # more spend = more excess over target: ad b24 is the worst
            world.ad(f"{tenant}-b{i:02d}", spend=100.0 + 10 * i, conversions=0, ad_group=group, tenant=tenant)
            world.ad(f"{tenant}-ok{i:02d}", spend=100.0, conversions=20, ad_group=group, tenant=tenant)
    decisions = _run(world)
    for tenant in ("northwind", "bellavista"):
        mine = [d for d in decisions if d.tenant_id == tenant]
        proposed = {d.entity_id for d in mine if d.status == "proposed"}
        capped = {d.entity_id for d in mine if d.status == "skipped"}
        assert len(proposed) == 20
        assert capped == {f"{tenant}-b{i:02d}" for i in range(5)}  # the five least wasteful wait
        assert all(d.evidence["guardrail"] == "cap" for d in mine if d.status == "skipped")
    assert len(_proposed_ids(_run(world, max_pauses_per_run=3))) == 6


def test_kill_switch_proposes_nothing_but_records_why() -> None:
    world = World().campaign("c1", target_cpa=20.0)
    world.ad("bad", spend=400.0, conversions=0)
    world.ad("good", spend=400.0, conversions=40)
    decisions = _run(world, kill_switch=True)
    assert _proposed_ids(decisions) == set()
    assert [d.status for d in decisions] == ["skipped"]
    assert "kill switch" in decisions[0].reason


def test_currency_mismatch_is_skipped_not_judged() -> None:
    world = World().campaign("c1", target_cpa=20.0, currency="EUR")
    world.ad("bad", spend=400.0, conversions=0, currency="USD")
    world.ad("good", spend=400.0, conversions=40, currency="USD")
    decisions = _run(world)
    assert _proposed_ids(decisions) == set()
    assert {d.entity_id: d.status for d in decisions} == {"bad": "skipped", "good": "skipped"}
    assert "currency" in decisions[0].reason


def test_missing_input_column_is_named() -> None:
    perf, campaigns, ads = World().campaign("c1").ad("a", spend=1.0, conversions=0).frames()
    with pytest.raises(ValueError, match="target_cpa"):
        propose_pauses(perf, campaigns.drop("target_cpa"), ads, as_of=AS_OF)


def test_empty_inputs_give_no_decisions() -> None:
    perf, campaigns, ads = World().frames()
    result = evaluate_pauses(perf, campaigns, ads, as_of=AS_OF)
    assert result.decisions == [] and result.n_evaluated == 0


# --- ids --------------------------------------------------------------------------------------------


def _bad_world() -> World:
    world = World().campaign("c1", target_cpa=20.0)
    world.ad("bad1", spend=400.0, conversions=0)
    world.ad("bad2", spend=500.0, conversions=1)
    world.ad("good", spend=400.0, conversions=40)
    return world


def test_decision_ids_are_deterministic_and_stable_across_runs() -> None:
    world = _bad_world()
    perf, campaigns, ads = world.frames()
    first = propose_pauses(perf, campaigns, ads, as_of=AS_OF)
    shuffled = propose_pauses(
        perf.sample(fraction=1.0, shuffle=True, seed=3), campaigns, ads.reverse(), as_of=AS_OF
    )
    assert [d.decision_id for d in first] == [d.decision_id for d in shuffled]
    assert first == shuffled
    assert len({d.decision_id for d in first}) == len(first) == 2

    d = first[0]
    parts = [POLICY, POLICY_VERSION, "northwind", "meta", "ad", d.entity_id, "pause_ad", AS_OF.isoformat()]
    by_hand = hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:32]
    assert d.decision_id == by_hand == d.idempotency_key
    assert len(d.decision_id) == 32


def test_decision_ids_differ_for_another_as_of_or_entity() -> None:
    world = _bad_world()
    perf, campaigns, ads = world.frames()
    today = {d.entity_id: d.decision_id for d in propose_pauses(perf, campaigns, ads, as_of=AS_OF)}
    tomorrow = {
        d.entity_id: d.decision_id
        for d in propose_pauses(perf, campaigns, ads, as_of=AS_OF + timedelta(days=1))
    }
    assert today.keys() == tomorrow.keys()
    assert not set(today.values()) & set(tomorrow.values())
    base = dict(
        policy=POLICY,
        policy_version=POLICY_VERSION,
        tenant_id="t",
        platform="meta",
        entity_type="ad",
        entity_id="1",
        action="pause_ad",
        as_of=AS_OF,
    )
    assert make_decision_id(**base) != make_decision_id(**{**base, "entity_id": "2"})
    assert make_decision_id(**base) != make_decision_id(**{**base, "policy_version": "2"})
    assert make_decision_id(**base) != make_decision_id(**{**base, "tenant_id": "t2"})


# --- property ---------------------------------------------------------------------------------------

_ad = st.tuples(
    st.floats(min_value=0.0, max_value=2000.0, allow_nan=False),  # window spend
    st.integers(min_value=0, max_value=30),  # conversions
    st.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "PAUSED"]),
)
_group = st.lists(_ad, min_size=1, max_size=6)
_campaign = st.tuples(st.sampled_from([5.0, 10.0, 20.0, 50.0]), st.lists(_group, min_size=1, max_size=3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    campaigns=st.lists(_campaign, min_size=1, max_size=3),
    cap=st.integers(min_value=0, max_value=8),
)
def test_no_proposal_ever_pauses_every_active_ad_of_a_group(campaigns, cap) -> None:
    world = World()
    active: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c, (target, groups) in enumerate(campaigns):
        world.campaign(f"c{c}", target_cpa=target)
        for g, ads in enumerate(groups):
            for a, (spend, conversions, status) in enumerate(ads):
                ad_id = f"c{c}g{g}a{a}"
                world.ad(
                    ad_id,
                    spend=spend,
                    conversions=conversions,
                    campaign=f"c{c}",
                    ad_group=f"c{c}g{g}",
                    status=status,
                )
                if status == "ACTIVE":
                    active[(f"c{c}", f"c{c}g{g}")].add(ad_id)

    decisions = _run(world, max_pauses_per_run=cap)
    proposed = _proposed_ids(decisions)

    for (_campaign_id, _group_id), ads in active.items():
        assert ads - proposed, f"every active ad of {_group_id} would be paused"
    for c in {campaign_id for campaign_id, _ in active}:
        live = set().union(*(ads for (cid, _), ads in active.items() if cid == c))
        assert live - proposed, f"every active ad of campaign {c} would be paused"
    assert len(proposed) <= cap
    assert len({d.decision_id for d in decisions}) == len(decisions)
