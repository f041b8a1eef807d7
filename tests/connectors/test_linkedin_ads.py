"""LinkedInAdsClient against the fake LinkedIn API (in-process): exact totals, Rest.li requests, writes
shaped as LinkedIn expects and applied once, every fault dialect, the client's own daily call budget."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import polars as pl
import pytest

from connectors.contracts import validate
from connectors.drift import QUARANTINE_REASON
from connectors.errors import AuthError, RateLimitedError, WriteNotRetriedError
from connectors.http import RetryPolicy
from connectors.landing import LandingZone
from connectors.linkedin_ads import (
    CreativeParents,
    DailyCallBudget,
    LinkedInAdsClient,
    LinkedInPacing,
    LinkedInSettings,
    parse_creative_stats,
    restli,
)
from connectors.sandbox.api import FaultConfig, SandboxAPI, SandboxLimits, sandbox_token
from tests.support.paid_social_world import paid_social_state

RETRY = RetryPolicy(max_attempts=12, base_delay=0.01, max_delay=0.05)
FINAL = SandboxLimits(linkedin_restatement_days=0)  # final numbers: no restatement of recent days


@pytest.fixture
def state(tiny_world_root, tmp_path) -> Any:
    return paid_social_state(tiny_world_root, tmp_path)


def accounts(state: Any) -> list[dict[str, Any]]:
    return state.world.accounts.filter(pl.col("platform") == "linkedin").sort("tenant_id").to_dicts()


def truth(state: Any, account_id: str) -> pl.DataFrame:
    return state.world.delivery.filter(
        (pl.col("platform") == "linkedin") & (pl.col("account_id") == account_id)
    )


class Recorder(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.requests = inner, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


def client(api: Any, acct: dict[str, Any], transport: Any = None, **kw: Any) -> LinkedInAdsClient:
    kw.setdefault("sleep", lambda _: None)
    return LinkedInAdsClient(
        sandbox_token(acct["tenant_id"]), acct["account_id"], transport=transport or api.transport(),
        tenant_id=acct["tenant_id"], **kw,
    )  # fmt: skip


def totals(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        "rows": frame.height,
        "cost": frame["cost_in_local_currency"].sum(),
        "impressions": frame["impressions"].sum(),
        "clicks": frame["clicks"].sum(),
        "conversions": frame["external_website_conversions"].sum(),
        "value": frame["conversion_value_in_local_currency"].sum(),
    }


def fetch_all(api: Any, state: Any, **kw: Any) -> dict[str, pl.DataFrame]:
    out = {}
    for acct in accounts(state):
        days = truth(state, acct["account_id"])["date"]
        with client(api, acct, **kw) as li:
            out[acct["account_id"]] = li.fetch_creative_stats(days.min(), days.max())
    return out


def test_creative_stats_equal_the_world_exactly(state, tmp_path):
    api = SandboxAPI(state, limits=FINAL)
    landing = LandingZone(tmp_path / "landing")
    for acct in accounts(state):
        world = truth(state, acct["account_id"])
        recorder = Recorder(api.transport())
        with client(api, acct, transport=recorder, landing=landing) as li:
            pages = list(li.iter_analytics_pages(world["date"].min(), world["date"].max()))
            frame = li.parse_creative_stats(pages)
        assert all(p.landing_path.exists() for p in pages)
        assert frame.height == world.height
        assert frame["cost_in_local_currency"].sum() == Decimal(int(world["spend_micros"].sum())) / 1_000_000
        assert frame["impressions"].sum() == world["impressions"].sum()
        assert frame["clicks"].sum() == world["clicks"].sum()
        assert frame["external_website_conversions"].sum() == world["platform_conversions"].sum()
        assert frame["conversion_value_in_local_currency"].sum() == sum(
            Decimal(str(round(v, 2))) for v in world["platform_conversion_value"]
        )
        want = world.select(
            pl.col("ad_id").alias("creative_id"), pl.col("ad_group_id").alias("campaign_id"),
            pl.col("campaign_id").alias("campaign_group_id"), "date",
        )  # fmt: skip
        got = frame.select("creative_id", "campaign_id", "campaign_group_id", "date")
        assert got.sort(got.columns).equals(want.sort(want.columns))
        assert set(frame["currency"]) == {acct["currency"]}
        assert (
            validate(frame, "linkedin_ads_creative_stats", as_of=world["date"].max()).quarantine.height == 0
        )
        analytics = [r for r in recorder.requests if r.url.path.endswith("/adAnalytics")]
        raw = analytics[0].url.query.decode()
        assert f"accounts=List(urn%3Ali%3AsponsoredAccount%3A{acct['account_id']})" in raw
        assert "dateRange=(start:(year:" in raw and "timeGranularity=DAILY" in raw and "pivot=CREATIVE" in raw
        assert all(r.headers["X-Restli-Protocol-Version"] == "2.0.0" for r in recorder.requests)
        assert all(r.headers["LinkedIn-Version"].isdigit() for r in recorder.requests)


def test_analytics_answers_cut_at_the_cap_are_split_and_asked_again(state):
    cap = 40
    api = SandboxAPI(state, limits=SandboxLimits(linkedin_analytics_max_elements=cap))
    exact = fetch_all(SandboxAPI(state), state)
    # The client plans windows three times too big for the cap: the server cuts them silently.
    greedy = LinkedInSettings(analytics_max_elements=cap, analytics_fill=3.0)
    split = fetch_all(api, state, settings=greedy)
    for account_id, frame in exact.items():
        assert totals(split[account_id]) == totals(frame)
    sized = LinkedInSettings(analytics_max_elements=cap)
    with client(api, accounts(state)[0], settings=sized) as li:
        assert li.window_days(8) == 4  # 8 creatives x 4 days = 32 <= 80% of 40


def test_entities_page_to_the_last_page(state):
    api = SandboxAPI(state)
    for acct in accounts(state):
        with client(api, acct, settings=LinkedInSettings(page_size=3)) as li:
            groups, campaigns, creatives = li.list_campaign_groups(), li.list_campaigns(), li.list_creatives()
        mine = (pl.col("platform") == "linkedin") & (pl.col("account_id") == acct["account_id"])
        world = state.world
        assert sorted(groups["id"]) == sorted(world.campaigns.filter(mine)["campaign_id"])
        assert sorted(creatives["id"]) == sorted(world.ads.filter(mine)["ad_id"])
        want = world.ad_groups.filter(mine).select(
            pl.col("ad_group_id").alias("id"), pl.col("campaign_id").alias("campaign_group_id"),
            pl.col("daily_budget").cast(pl.Decimal(18, 2)).alias("daily_budget_amount"), "status",
        )  # fmt: skip
        got = campaigns.select("id", "campaign_group_id", "daily_budget_amount", "status")
        assert got.sort("id").equals(want.sort("id"))
        assert set(campaigns["currency"]) == {acct["currency"]}
        for table, frame in (
            ("linkedin_ads_campaign_groups", groups),
            ("linkedin_ads_campaigns", campaigns),
            ("linkedin_ads_creatives", creatives),
        ):
            assert validate(frame, table).quarantine.height == 0


def test_every_fault_leaves_the_totals_of_the_fault_free_run(state):
    exact = fetch_all(SandboxAPI(state), state)
    for kind in ("429", "throttle", "5xx", "timeout"):
        api = SandboxAPI(state, FaultConfig(rate=0.35, seed=7, kinds=(kind,)))
        faulty = fetch_all(api, state, retry=RETRY)
        for account_id, frame in exact.items():
            got = faulty[account_id]
            assert totals(got) == totals(frame), kind
            assert got.select("creative_id", "date").is_duplicated().sum() == 0
        assert {k for _, k in api.injected_faults} == {kind}


def test_throttle_is_a_bare_429_in_linkedin_dialect(state):
    api = SandboxAPI(state, FaultConfig(rate=1.0, kinds=("429",), max_consecutive=1))
    acct = accounts(state)[0]
    answer = httpx.Client(transport=api.transport()).get(
        f"https://api.linkedin.com/rest/adAccounts/{acct['account_id']}",
        headers={"Authorization": f"Bearer {sandbox_token(acct['tenant_id'])}", "LinkedIn-Version": "202409"},
    )
    assert answer.status_code == 429
    assert answer.json()["code"] == "TOO_MANY_REQUESTS" and "DAY limit" in answer.json()["message"]
    assert "retry-after" not in answer.headers and not any("usage" in h for h in answer.headers)


def test_writes_are_partial_updates_applied_once_under_lost_answers(state):
    api = SandboxAPI(state, FaultConfig(rate=0.6, seed=11, kinds=("timeout",), timeout_mode="after"))
    acct = accounts(state)[0]
    recorder = Recorder(api.transport())
    with client(api, acct, transport=recorder, retry=RETRY) as li:
        campaign = li.list_campaigns().sort("id").row(0, named=True)
        # above LinkedIn's minimum daily budget (10.00): the tiny world's own budgets are smaller
        new_budget = max(campaign["daily_budget_amount"], Decimal("10.00")) + Decimal("7.25")
        li.update_campaign(
            campaign["id"], status="PAUSED", daily_budget=new_budget, idempotency_key="dec-li-1"
        )
        li.update_campaign(
            campaign["id"], status="PAUSED", daily_budget=new_budget, idempotency_key="dec-li-1"
        )
        back = li.get_campaign(campaign["id"])
    assert back["status"] == "PAUSED"
    assert back["dailyBudget"] == {"amount": f"{new_budget:.2f}", "currencyCode": acct["currency"]}
    writes = [r for r in recorder.requests if r.method == "POST"]
    assert all(r.headers["X-RestLi-Method"] == "PARTIAL_UPDATE" for r in writes)
    assert all(r.headers["X-Idempotency-Key"] == "dec-li-1" for r in writes)
    assert json.loads(writes[0].content) == {
        "patch": {
            "$set": {
                "status": "PAUSED",
                "dailyBudget": {"amount": f"{new_budget:.2f}", "currencyCode": acct["currency"]},
            }
        }
    }
    assert writes[0].url.path == f"/rest/adAccounts/{acct['account_id']}/adCampaigns/{campaign['id']}"
    applied = [w for w in api.applied_writes if w.entity_id == campaign["id"]]
    assert [(w.field, w.value) for w in applied] == [
        ("status", "PAUSED"),
        ("daily_budget", float(new_budget)),
    ]


def test_unkeyed_write_is_retried_after_a_429_but_not_after_a_lost_answer(state):
    acct = accounts(state)[0]
    campaign_id = truth(state, acct["account_id"])["ad_group_id"].sort()[0]
    throttled = SandboxAPI(state, FaultConfig(rate=1.0, kinds=("429",), max_consecutive=1))
    with client(throttled, acct, retry=RETRY) as li:
        li.update_campaign(campaign_id, status="PAUSED")
    assert len(throttled.injected_faults) == 1 and len(throttled.applied_writes) == 1
    lost = SandboxAPI(state, FaultConfig(rate=1.0, kinds=("timeout",), timeout_mode="after"))
    with client(lost, acct, retry=RETRY) as li, pytest.raises(WriteNotRetriedError):
        li.update_campaign(campaign_id, status="ACTIVE")
    assert len(lost.injected_faults) == 1 and len(lost.applied_writes) == 1


def test_bad_token_is_an_auth_error_not_retried(state):
    api = SandboxAPI(state)
    acct = accounts(state)[0]
    li = LinkedInAdsClient(
        "sandbox-nobody", acct["account_id"], transport=api.transport(), tenant_id="x", retry=RETRY
    )
    with li, pytest.raises(AuthError) as caught:
        li.get_account()
    assert caught.value.code == "INVALID_ACCESS_TOKEN" and li.http.requests_sent == 1
    assert "sandbox-nobody" not in str(caught.value)


def test_own_daily_counter_paces_and_stops_before_the_quota(state):
    api = SandboxAPI(state)
    acct = accounts(state)[0]
    now = [1_790_000_000.0]  # a fixed instant: the budget's day only changes when the test moves it
    budget = DailyCallBudget(lambda: now[0])
    waits: list[float] = []
    pacing = LinkedInPacing(daily_calls=5, slow_from_pct=40.0, max_sleep=8.0)
    with client(
        api, acct, settings=LinkedInSettings(pacing=pacing), call_budget=budget, sleep=waits.append
    ) as li:
        for _ in range(5):
            li.get_account()
        with pytest.raises(RateLimitedError, match="daily call budget"):
            li.get_account()
        assert li.http.requests_sent == 5  # the sixth call never left
    assert waits == pytest.approx([8 * 20 / 60, 8 * 40 / 60, 8.0])  # above 40% of 5 calls: slower
    now[0] += budget.seconds_to_reset() + 1  # midnight UTC: a new day, a new budget
    assert budget.used == 0


def test_parser_keeps_exact_cents_from_long_decimal_strings():
    page = {"elements": [{
        "costInLocalCurrency": "110.73224830627441", "impressions": 10, "clicks": 1,
        "externalWebsiteConversions": 2, "conversionValueInLocalCurrency": "30.5",
        "dateRange": {"start": {"year": 2026, "month": 2, "day": 28}, "end": {"year": 2026, "month": 2, "day": 28}},
        "pivotValues": ["urn:li:sponsoredCreative:1234567890"],
    }]}  # fmt: skip
    parents = CreativeParents({"1234567890": "700000001"}, {"700000001": "600000001"})
    frame = parse_creative_stats([page], "t", "500000001", "USD", parents)
    row = frame.row(0, named=True)
    assert row["cost_in_local_currency"] == Decimal("110.73")
    assert row["conversion_value_in_local_currency"] == Decimal("30.50")
    assert str(row["date"]) == "2026-02-28" and row["campaign_group_id"] == "600000001"
    assert restli({"a": ["urn:li:x:1", "b c"]}) == "(a:List(urn%3Ali%3Ax%3A1,b%20c))"


def test_recent_days_are_restated_as_they_mature(state):
    """LinkedIn restates its last `linkedin_restatement_days` (conversions attributed late): served
    conversions of recent days are below the final ones, a later pull ("restate") sees more, older days
    are final. Spend and delivery never move."""
    final = fetch_all(SandboxAPI(state, limits=FINAL), state)
    served = fetch_all(SandboxAPI(state), state)
    later = fetch_all(SandboxAPI(state, FaultConfig(rate=1.0, kinds=("restate",))), state)
    today = state.world.delivery["date"].max()
    recent = pl.col("date") > today - timedelta(days=SandboxLimits().linkedin_restatement_days)
    moved = False
    for account_id, frame in final.items():
        for name, got in (("served", served[account_id]), ("later", later[account_id])):
            assert {k: v for k, v in totals(got).items() if k not in ("conversions", "value")} == {
                k: v for k, v in totals(frame).items() if k not in ("conversions", "value")
            }, name
            assert totals(got.filter(~recent)) == totals(frame.filter(~recent)), name  # old days final
        now, then, truth_ = (f.filter(recent)["external_website_conversions"].sum()
                             for f in (served[account_id], later[account_id], frame))  # fmt: skip
        assert now <= then <= truth_
        moved |= now < truth_
    assert moved  # some recent conversion was still maturing


def _listings(api: Any, acct: dict[str, Any]) -> tuple[dict[str, pl.DataFrame], list[Any]]:
    with client(api, acct, settings=LinkedInSettings(page_size=3)) as li:  # several pages per listing
        frames = {
            "linkedin_ads_campaign_groups": li.list_campaign_groups(),
            "linkedin_ads_campaigns": li.list_campaigns(),
            "linkedin_ads_creatives": li.list_creatives(),
        }
        return frames, li.report.take()[0]


@pytest.mark.parametrize("kind", ["duplicate", "drift_new_column", "drift_text_number"])
def test_entity_listings_read_through_row_faults(state, kind):
    """Every answer of every finder faulted: the listings keep every entity once (after the exact
    repeats a snapshot drops), with the fault-free values, and the drift is reported per listing."""
    faulty = SandboxAPI(state, FaultConfig(rate=1.0, seed=3, kinds=(kind,), platforms=("linkedin",)))
    for acct in accounts(state):
        clean, none = _listings(SandboxAPI(state), acct)
        assert none == []
        frames, drift = _listings(faulty, acct)
        for table, frame in frames.items():
            assert QUARANTINE_REASON not in frame.columns, table
            assert frame.unique(maintain_order=True).sort("id").equals(clean[table].sort("id")), table
            if kind == "duplicate":
                assert frame.height > clean[table].height, table  # repeats came, and are exact
        seen = {(e.kind, e.detail.split(":")[0]) for e in drift}
        if kind == "drift_new_column":
            assert {t for k, t in seen if k == "new_column"} == set(frames)
        elif kind == "drift_text_number":  # budgets and creation times are numbers
            assert {t for k, t in seen if k == "type_changed"} == {
                "linkedin_ads_campaigns",
                "linkedin_ads_creatives",
            }
        else:
            assert drift == []
    assert {k for _, k in faulty.injected_faults} == {kind}


def test_entity_listings_missing_a_field_quarantine_and_stats_name_the_gap(state):
    """A finder answer without a field the connector needs marks every such element with the reason
    (nothing loaded half-read); analytics rows whose creative cannot be placed say why."""
    api = SandboxAPI(state, FaultConfig(rate=1.0, kinds=("drift_missing_column",), platforms=("linkedin",)))
    for acct in accounts(state):
        frames, drift = _listings(api, acct)
        for table, frame in frames.items():
            reasons = frame[QUARANTINE_REASON]
            assert reasons.null_count() == 0, table  # every page lost a required field
            assert all(r.startswith(f"{table}: field ") and "absent from the platform's answer" in r
                       for r in reasons), table  # fmt: skip
        assert {e.detail.split(":")[0] for e in drift if e.kind == "missing_column"} == set(frames)
        with client(api, acct) as li:
            days = truth(state, acct["account_id"])["date"]
            stats = li.fetch_creative_stats(days.max() - timedelta(days=6), days.max())
        assert stats.height > 0 and stats[QUARANTINE_REASON].null_count() == 0
        assert all("absent from the platform's answer" in r for r in stats[QUARANTINE_REASON])
