"""TikTokAdsClient against the fake TikTok API (in-process): exact totals, page/page_size to the last
page, 30-day report spans, every answer's `code` read (HTTP 200 is never success by itself), writes
shaped as TikTok expects and applied once."""

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
from connectors.errors import AuthError, PermanentError, RateLimitedError, WriteNotRetriedError
from connectors.http import RetryPolicy
from connectors.landing import LandingZone
from connectors.sandbox.api import FaultConfig, SandboxAPI, SandboxLimits, sandbox_token
from connectors.tiktok_ads import TikTokAdsClient, TikTokSettings
from tests.connectors.mock_api import Script
from tests.support.paid_social_world import paid_social_state

RETRY = RetryPolicy(max_attempts=12, base_delay=0.01, max_delay=0.05)


FINAL = SandboxLimits(tiktok_restatement_days=0)  # final numbers: no restatement of recent days


@pytest.fixture
def state(tiny_world_root, tmp_path) -> Any:
    return paid_social_state(tiny_world_root, tmp_path)


def accounts(state: Any) -> list[dict[str, Any]]:
    return state.world.accounts.filter(pl.col("platform") == "tiktok").sort("tenant_id").to_dicts()


def truth(state: Any, account_id: str) -> pl.DataFrame:
    return state.world.delivery.filter(
        (pl.col("platform") == "tiktok") & (pl.col("account_id") == account_id)
    )


def client(transport: Any, acct: dict[str, Any], **kw: Any) -> TikTokAdsClient:
    kw.setdefault("sleep", lambda _: None)
    return TikTokAdsClient(sandbox_token(acct["tenant_id"]), acct["account_id"], transport=transport,
                           tenant_id=acct["tenant_id"], **kw)  # fmt: skip


def totals(frame: pl.DataFrame) -> dict[str, Any]:
    return {
        "rows": frame.height,
        "spend": frame["spend"].sum(),
        "impressions": frame["impressions"].sum(),
        "clicks": frame["clicks"].sum(),
        "conversion": frame["conversion"].sum(),
        "value": frame["total_purchase_value"].sum(),
    }


def fetch_all(api: Any, state: Any, **kw: Any) -> dict[str, pl.DataFrame]:
    out = {}
    for acct in accounts(state):
        days = truth(state, acct["account_id"])["date"]
        with client(api.transport(), acct, settings=TikTokSettings(page_size=50), **kw) as tt:
            out[acct["account_id"]] = tt.fetch_ad_stats(days.min(), days.max())
    return out


def test_ad_stats_equal_the_world_exactly(state, tmp_path):
    api = SandboxAPI(state, limits=FINAL)
    landing = LandingZone(tmp_path / "landing")
    for acct in accounts(state):
        world = truth(state, acct["account_id"])
        since, until = world["date"].min(), world["date"].max()
        with client(api.transport(), acct, landing=landing, settings=TikTokSettings(page_size=50)) as tt:
            pages = list(tt.iter_report_pages(since, until))
            frame = tt.parse_ad_stats(pages)
        assert all(p.landing_path.exists() for p in pages)
        spans = {(p.meta["url"].split("start_date=")[1][:10]) for p in pages}
        assert len(spans) == -(-((until - since).days + 1) // 30)  # 30-day spans
        assert frame.height == world.height
        assert frame["spend"].sum() == Decimal(int(world["spend_micros"].sum())) / 1_000_000
        assert frame["impressions"].sum() == world["impressions"].sum()
        assert frame["clicks"].sum() == world["clicks"].sum()
        assert frame["conversion"].sum() == world["platform_conversions"].sum()
        assert frame["total_purchase_value"].sum() == sum(
            Decimal(str(round(v, 2))) for v in world["platform_conversion_value"]
        )
        want = world.select("ad_id", pl.col("ad_group_id").alias("adgroup_id"), "campaign_id",
                            pl.col("date").alias("stat_time_day"))  # fmt: skip
        got = frame.select("ad_id", "adgroup_id", "campaign_id", "stat_time_day")
        assert got.sort(got.columns).equals(want.sort(want.columns))
        assert frame["ad_name"].null_count() == 0 and set(frame["currency"]) == {acct["currency"]}
        assert validate(frame, "tiktok_ads_ad_stats", as_of=until).quarantine.height == 0


def test_entities_page_to_the_last_page(state):
    api = SandboxAPI(state)
    for acct in accounts(state):
        with client(api.transport(), acct, settings=TikTokSettings(page_size=3)) as tt:
            campaigns, adgroups, ads = tt.list_campaigns(), tt.list_adgroups(), tt.list_ads()
        mine = (pl.col("platform") == "tiktok") & (pl.col("account_id") == acct["account_id"])
        world = state.world
        assert sorted(campaigns["campaign_id"]) == sorted(world.campaigns.filter(mine)["campaign_id"])
        assert sorted(ads["ad_id"]) == sorted(world.ads.filter(mine)["ad_id"])
        want = world.ad_groups.filter(mine).select(
            pl.col("ad_group_id").alias("adgroup_id"), "campaign_id",
            pl.col("daily_budget").cast(pl.Decimal(18, 2)).alias("budget"),
            pl.col("status").replace({"ACTIVE": "ENABLE", "PAUSED": "DISABLE"}).alias("operation_status"),
        )  # fmt: skip
        got = adgroups.select("adgroup_id", "campaign_id", "budget", "operation_status")
        assert got.sort("adgroup_id").equals(want.sort("adgroup_id"))
        assert set(adgroups["budget_mode"]) == {"BUDGET_MODE_DAY"}
        for table, frame in (
            ("tiktok_ads_campaigns", campaigns),
            ("tiktok_ads_adgroups", adgroups),
            ("tiktok_ads_ads", ads),
        ):
            assert validate(frame, table).quarantine.height == 0


def test_every_fault_including_200_with_a_code_leaves_the_fault_free_totals(state):
    exact = fetch_all(SandboxAPI(state), state)
    for kind in ("429", "throttle", "5xx", "timeout"):
        api = SandboxAPI(state, FaultConfig(rate=0.35, seed=5, kinds=(kind,)))
        faulty = fetch_all(api, state, retry=RETRY)
        for account_id, frame in exact.items():
            assert totals(faulty[account_id]) == totals(frame), kind
            assert faulty[account_id].select("ad_id", "stat_time_day").is_duplicated().sum() == 0
        assert {k for _, k in api.injected_faults} == {kind}


def test_an_http_200_is_read_for_its_code():
    ok = {"code": 0, "message": "OK", "request_id": "r", "data": {"list": [], "page_info": {"total_page": 0}}}
    script = Script(
        httpx.Response(
            200, json={"code": 40100, "message": "Too many requests.", "request_id": "r1", "data": {}}
        ),
        httpx.Response(200, json={"code": 50000, "message": "System error", "request_id": "r2", "data": {}}),
        httpx.Response(200, json=ok),
    )
    acct = {"tenant_id": "t", "account_id": "7000000000000000001"}
    with client(script.transport, acct, retry=RETRY) as tt:
        assert tt.list_ads().height == 0
    assert script.calls == 3
    for code, error in ((40002, PermanentError), (40105, AuthError), (40001, AuthError)):
        script = Script(
            httpx.Response(200, json={"code": code, "message": "no", "request_id": "r", "data": {}})
        )
        with client(script.transport, acct, retry=RETRY) as tt, pytest.raises(error) as caught:
            tt.list_ads()
        assert caught.value.code == code and script.calls == 1
    script = Script(httpx.Response(200, json={"code": 40100, "message": "Too many requests.", "data": {}}))
    three = RetryPolicy(max_attempts=3, base_delay=0.01)
    with client(script.transport, acct, retry=three) as tt, pytest.raises(RateLimitedError):
        tt.list_ads()
    assert script.calls == 3


def test_unkeyed_write_retried_after_a_throttle_never_after_a_5xx_code():
    ok = {
        "code": 0,
        "message": "OK",
        "request_id": "r",
        "data": {"adgroup_ids": ["7003"], "status": "DISABLE"},
    }
    acct = {"tenant_id": "t", "account_id": "7000000000000000001"}
    throttled = Script(
        httpx.Response(200, json={"code": 40100, "message": "Too many requests."}),
        httpx.Response(200, json=ok),
    )
    with client(throttled.transport, acct, retry=RETRY) as tt:
        assert tt.update_adgroup_status(["7003"], "DISABLE")["status"] == "DISABLE"
    assert throttled.calls == 2
    broken = Script(
        httpx.Response(200, json={"code": 50000, "message": "System error"}), httpx.Response(200, json=ok)
    )
    with client(broken.transport, acct, retry=RETRY) as tt, pytest.raises(WriteNotRetriedError):
        tt.update_adgroup_status(["7003"], "DISABLE")
    assert broken.calls == 1


def test_writes_are_shaped_as_tiktok_expects_and_applied_once(state):
    api = SandboxAPI(state, FaultConfig(rate=0.6, seed=11, kinds=("timeout",), timeout_mode="after"))
    acct = accounts(state)[0]
    requests: list[httpx.Request] = []
    inner = api.transport()

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return inner.handle_request(request)

    with client(httpx.MockTransport(record), acct, retry=RETRY) as tt:
        group = tt.list_adgroups().sort("adgroup_id").row(0, named=True)
        budget = max(group["budget"], Decimal("20.00")) + Decimal("8.40")  # TikTok's minimum is 20.00
        tt.update_adgroup_status([group["adgroup_id"]], "DISABLE", idempotency_key="dec-tt-1")
        tt.update_adgroup_budget(group["adgroup_id"], budget, idempotency_key="dec-tt-2")
        tt.update_adgroup_budget(group["adgroup_id"], budget, idempotency_key="dec-tt-2")
        (back,) = tt.get_adgroups([group["adgroup_id"]])
    assert back["operation_status"] == "DISABLE" and Decimal(repr(back["budget"])) == budget
    posts = [r for r in requests if r.method == "POST"]
    bodies = {r.url.path: json.loads(r.content) for r in posts}
    assert bodies["/open_api/v1.3/adgroup/status/update/"] == {
        "advertiser_id": acct["account_id"], "adgroup_ids": [group["adgroup_id"]], "operation_status": "DISABLE",
    }  # fmt: skip
    assert bodies["/open_api/v1.3/adgroup/budget/update/"] == {
        "advertiser_id": acct["account_id"], "budget": [{"adgroup_id": group["adgroup_id"], "budget": float(budget)}],
    }  # fmt: skip
    assert all(r.headers["Access-Token"] == sandbox_token(acct["tenant_id"]) for r in requests)
    applied = [(w.field, w.value) for w in api.applied_writes if w.entity_id == group["adgroup_id"]]
    assert applied == [("status", "PAUSED"), ("daily_budget", float(budget))]


def test_budget_below_the_minimum_is_refused_with_a_code(state):
    api = SandboxAPI(state)
    acct = accounts(state)[0]
    with client(api.transport(), acct, retry=RETRY) as tt:
        group = tt.list_adgroups()["adgroup_id"][0]
        with pytest.raises(PermanentError) as caught:
            tt.update_adgroup_budget(group, "5.00", idempotency_key="low")
    assert caught.value.code == 40002 and "at least" in str(caught.value)
    assert api.applied_writes == []


def test_recent_days_are_restated_as_they_mature(state):
    """TikTok restates its last `tiktok_restatement_days`: served conversions (and their value) of
    recent days are below the final ones, a later pull ("restate") sees more, older days are final."""
    final = fetch_all(SandboxAPI(state, limits=FINAL), state)
    served = fetch_all(SandboxAPI(state), state)
    later = fetch_all(SandboxAPI(state, FaultConfig(rate=1.0, kinds=("restate",))), state)
    today = state.world.delivery["date"].max()
    recent = pl.col("stat_time_day") > today - timedelta(days=SandboxLimits().tiktok_restatement_days)
    moved = False
    for account_id, frame in final.items():
        for name, got in (("served", served[account_id]), ("later", later[account_id])):
            assert {k: v for k, v in totals(got).items() if k not in ("conversion", "value")} == {
                k: v for k, v in totals(frame).items() if k not in ("conversion", "value")
            }, name
            assert totals(got.filter(~recent)) == totals(frame.filter(~recent)), name  # old days final
        now, then, truth_ = (f.filter(recent)["conversion"].sum()
                             for f in (served[account_id], later[account_id], frame))  # fmt: skip
        assert now <= then <= truth_
        moved |= now < truth_
    assert moved  # some recent conversion was still maturing


KEYS = {"tiktok_ads_campaigns": "campaign_id", "tiktok_ads_adgroups": "adgroup_id", "tiktok_ads_ads": "ad_id"}


def _listings(api: Any, acct: dict[str, Any]) -> tuple[dict[str, pl.DataFrame], list[Any]]:
    with client(api.transport(), acct, settings=TikTokSettings(page_size=3)) as tt:  # several pages each
        frames = {
            "tiktok_ads_campaigns": tt.list_campaigns(),
            "tiktok_ads_adgroups": tt.list_adgroups(),
            "tiktok_ads_ads": tt.list_ads(),
        }
        return frames, tt.report.take()[0]


@pytest.mark.parametrize("kind", ["duplicate", "drift_new_column", "drift_text_number"])
def test_entity_listings_read_through_row_faults(state, kind):
    """Every answer of every listing faulted: every entity once (after the exact repeats a snapshot
    drops) with the fault-free values; the drift is reported per listing."""
    faulty = SandboxAPI(state, FaultConfig(rate=1.0, seed=3, kinds=(kind,), platforms=("tiktok",)))
    for acct in accounts(state):
        clean, none = _listings(SandboxAPI(state), acct)
        assert none == []
        frames, drift = _listings(faulty, acct)
        for table, frame in frames.items():
            assert QUARANTINE_REASON not in frame.columns, table
            key = KEYS[table]
            assert frame.unique(maintain_order=True).sort(key).equals(clean[table].sort(key)), table
            if kind == "duplicate":
                assert frame.height > clean[table].height, table
        seen = {(e.kind, e.detail.split(":")[0]) for e in drift}
        if kind == "drift_new_column":
            assert {t for k, t in seen if k == "new_column"} == set(frames)
        elif kind == "drift_text_number":  # ad group budgets are the listings' numbers
            assert {t for k, t in seen if k == "type_changed"} == {"tiktok_ads_adgroups"}
        else:
            assert drift == []
    assert {k for _, k in faulty.injected_faults} == {kind}


def test_entity_listings_missing_a_field_quarantine_with_the_reason(state):
    api = SandboxAPI(state, FaultConfig(rate=1.0, kinds=("drift_missing_column",), platforms=("tiktok",)))
    for acct in accounts(state):
        frames, drift = _listings(api, acct)
        for table, frame in frames.items():
            reasons = frame[QUARANTINE_REASON]
            assert reasons.null_count() == 0, table  # every page lost a required field
            assert all(r.startswith(f"{table}: field ") and "absent from the platform's answer" in r
                       for r in reasons), table  # fmt: skip
        assert {e.detail.split(":")[0] for e in drift if e.kind == "missing_column"} == set(frames)
