"""The production connectors, unchanged, against the fake platform APIs (in-process transport).

Totals read through each client must equal the sandbox world's own tables; writes must read back and be
applied exactly once even when faults are injected. The state is `SandboxState(ensure_world("tiny", 7))`;
until that class exists the sandbox API tests' fixture state stands in (same attributes).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

sandbox_api = pytest.importorskip("connectors.sandbox.api")

from connectors.contracts import validate  # noqa: E402
from connectors.errors import PermanentError  # noqa: E402
from connectors.files import import_touchpoint_files  # noqa: E402
from connectors.google_ads import GoogleAdsClient  # noqa: E402
from connectors.http import RetryPolicy  # noqa: E402
from connectors.hubspot import HubSpotClient, HubSpotSettings  # noqa: E402
from connectors.landing import LandingZone  # noqa: E402
from connectors.meta_ads import MetaAdsClient  # noqa: E402

SandboxAPI = sandbox_api.SandboxAPI
FaultConfig = sandbox_api.FaultConfig
# Final numbers (no restatement of recent days): served conversions equal the world's.
FINAL = sandbox_api.SandboxLimits(meta_restatement_days=0, google_restatement_days=0)
sandbox_token = sandbox_api.sandbox_token


def _make_state(root: Path, scratch: Path) -> Any:
    try:
        from connectors.sandbox.generator import ensure_world
        from connectors.sandbox.state import SandboxState
    except ImportError:
        try:
            from tests.sandbox.api_fixtures import FixtureState
        except ImportError:
            pytest.skip("neither SandboxState nor the sandbox fixture state is available")
        return FixtureState()
    # Writes and idempotency keys persist under <world>/state: every test gets its own copy of the world.
    world = scratch / "world"
    shutil.copytree(ensure_world("tiny", 7, root), world)
    return SandboxState(world)


@pytest.fixture(scope="module")
def sandbox_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sandbox")


@pytest.fixture
def state(sandbox_root, tmp_path) -> Any:
    return _make_state(sandbox_root, tmp_path)


def no_sleep(_: float) -> None:
    return None


RETRY = RetryPolicy(max_attempts=12, base_delay=0.01, max_delay=0.05)


def accounts(state: Any, platform: str) -> list[dict[str, Any]]:
    frame = state.world.accounts.filter(pl.col("platform") == platform).sort("tenant_id")
    return frame.to_dicts()


def delivery(state: Any, platform: str, account_id: str) -> pl.DataFrame:
    return state.world.delivery.filter(
        (pl.col("platform") == platform) & (pl.col("account_id") == account_id)
    )


def world_range(frame: pl.DataFrame) -> tuple[Any, Any]:
    return frame["date"].min(), frame["date"].max()


def money(values: list[float]) -> Decimal:
    return sum((Decimal(str(round(v, 2))) for v in values), Decimal(0))


# -- Meta ---------------------------------------------------------------------------------------------------


def test_meta_insights_totals_equal_the_world(state, tmp_path):
    api = SandboxAPI(state, limits=FINAL)
    landing = LandingZone(tmp_path / "landing")
    for acct in accounts(state, "meta"):
        truth = delivery(state, "meta", acct["account_id"])
        since, until = world_range(truth)
        with MetaAdsClient(
            sandbox_token(acct["tenant_id"]), acct["account_id"], transport=api.transport(),
            tenant_id=acct["tenant_id"], landing=landing, sleep=no_sleep,
        ) as meta:  # fmt: skip
            pages = list(meta.iter_insights_pages(since, until))
            frame = meta.parse_insights(pages)
        assert all(p.landing_path.exists() for p in pages)
        assert frame.height == truth.height
        assert frame["spend"].sum() == Decimal(int(truth["spend_micros"].sum())) / Decimal(1_000_000)
        assert frame["impressions"].sum() == truth["impressions"].sum()
        assert frame["clicks"].sum() == truth["clicks"].sum()
        assert frame["conversions"].sum() == pytest.approx(truth["platform_conversions"].sum())
        assert frame["conversion_value"].sum() == money(truth["platform_conversion_value"].to_list())
        assert set(frame["account_currency"].unique()) == {acct["currency"]}
        checked = validate(frame, "meta_ads_insights", as_of=until)
        assert checked.quarantine.height == 0, checked.quarantine.head(3)


def test_meta_entities_match_the_world(state):
    api = SandboxAPI(state)
    for acct in accounts(state, "meta"):
        with MetaAdsClient(
            sandbox_token(acct["tenant_id"]), acct["account_id"], transport=api.transport(),
            tenant_id=acct["tenant_id"], sleep=no_sleep,
        ) as meta:  # fmt: skip
            campaigns, adsets, ads = meta.list_campaigns(), meta.list_adsets(), meta.list_ads()
        world = state.world
        mine = (pl.col("platform") == "meta") & (pl.col("account_id") == acct["account_id"])
        assert sorted(campaigns["id"]) == sorted(world.campaigns.filter(mine)["campaign_id"])
        assert sorted(ads["id"]) == sorted(world.ads.filter(mine)["ad_id"])
        want = world.ad_groups.filter(mine).select(
            pl.col("ad_group_id").alias("id"),
            (pl.col("daily_budget") * 100).round(0).cast(pl.Int64).alias("daily_budget"),
        )
        got = adsets.select("id", "daily_budget")
        assert got.sort("id").equals(want.sort("id"))
        for table, frame in (
            ("meta_ads_campaigns", campaigns),
            ("meta_ads_adsets", adsets),
            ("meta_ads_ads", ads),
        ):
            assert validate(frame, table).quarantine.height == 0


def test_meta_writes_read_back_and_apply_once_under_faults(state):
    # "after" timeouts: the platform DID apply the write but the answer never arrived; the retry with
    # the same idempotency key must not apply it a second time
    api = SandboxAPI(state, FaultConfig(rate=0.6, seed=11, kinds=("timeout",), timeout_mode="after"))
    acct = accounts(state, "meta")[0]
    adsets = (
        state.world.ad_groups.filter(
            (pl.col("platform") == "meta") & (pl.col("account_id") == acct["account_id"])
        )
        .sort("ad_group_id")
        .to_dicts()
    )
    with MetaAdsClient(
        sandbox_token(acct["tenant_id"]), acct["account_id"], transport=api.transport(),
        tenant_id=acct["tenant_id"], retry=RETRY, sleep=no_sleep,
    ) as meta:  # fmt: skip
        for i, adset in enumerate(adsets):
            new_budget = round(adset["daily_budget"] * 100) + 700
            key = f"dec-meta-{i}"
            out = meta.update_object(adset["ad_group_id"], daily_budget_minor=new_budget, idempotency_key=key)
            again = meta.update_object(
                adset["ad_group_id"], daily_budget_minor=new_budget, idempotency_key=key
            )
            assert out == again
            back = meta.get_object(adset["ad_group_id"], ["id", "daily_budget", "status"])
            assert int(back["daily_budget"]) == new_budget
            applied = [w for w in api.applied_writes if w.entity_id == adset["ad_group_id"]]
            assert len(applied) == 1
    assert {kind for _, kind in api.injected_faults} >= {"timeout"}


def test_meta_write_without_key_is_not_retried_after_timeout(state):
    from connectors.errors import WriteNotRetriedError

    api = SandboxAPI(state, FaultConfig(rate=1.0, seed=1, kinds=("timeout",), timeout_mode="after"))
    acct = accounts(state, "meta")[0]
    adset = state.world.ad_groups.filter(
        (pl.col("platform") == "meta") & (pl.col("account_id") == acct["account_id"])
    ).row(0, named=True)
    with MetaAdsClient(
        sandbox_token(acct["tenant_id"]), acct["account_id"], transport=api.transport(),
        tenant_id=acct["tenant_id"], retry=RETRY, sleep=no_sleep,
    ) as meta, pytest.raises(WriteNotRetriedError):  # fmt: skip
        meta.update_object(adset["ad_group_id"], status="PAUSED")
    assert len(api.injected_faults) == 1  # exactly one attempt
    assert len(api.applied_writes) == 1  # ...which the platform did apply: hence no blind retry


# -- Google Ads ---------------------------------------------------------------------------------------------


def google(state_api: Any, acct: dict[str, Any], **kw: Any) -> GoogleAdsClient:
    return GoogleAdsClient(
        sandbox_token(acct["tenant_id"]), "sandbox-dev-token", acct["account_id"],
        transport=state_api.transport(), tenant_id=acct["tenant_id"], sleep=no_sleep, **kw,
    )  # fmt: skip


def test_google_ad_stats_totals_equal_the_world(state):
    api = SandboxAPI(state, limits=FINAL)
    for acct in accounts(state, "google_ads"):
        truth = delivery(state, "google_ads", acct["account_id"])
        since, until = world_range(truth)
        with google(api, acct) as g:
            frame = g.fetch_ad_stats(since, until)
        assert frame.height == truth.height
        assert frame["cost_micros"].sum() == truth["spend_micros"].sum()
        assert frame["impressions"].sum() == truth["impressions"].sum()
        assert frame["clicks"].sum() == truth["clicks"].sum()
        assert frame["conversions"].sum() == pytest.approx(truth["platform_conversions"].sum())
        assert frame["conversions_value"].sum() == pytest.approx(truth["platform_conversion_value"].sum())
        assert set(frame["currency_code"].unique()) == {acct["currency"]}
        assert validate(frame, "google_ads_ad_stats", as_of=until).quarantine.height == 0


def test_google_entities_and_budget_mutation(state):
    api = SandboxAPI(state, FaultConfig(rate=0.3, seed=5))
    acct = accounts(state, "google_ads")[0]
    with google(api, acct, retry=RETRY) as g:
        campaigns = g.list_campaigns()
        groups, ads = g.list_ad_groups(), g.list_ads()
        mine = (pl.col("platform") == "google_ads") & (pl.col("account_id") == acct["account_id"])
        world = state.world
        assert sorted(campaigns["campaign_id"]) == sorted(world.campaigns.filter(mine)["campaign_id"])
        assert sorted(groups["ad_group_id"]) == sorted(world.ad_groups.filter(mine)["ad_group_id"])
        assert sorted(ads["ad_id"]) == sorted(world.ads.filter(mine)["ad_id"])
        for table, frame in (
            ("google_ads_campaigns", campaigns),
            ("google_ads_ad_groups", groups),
            ("google_ads_ads", ads),
        ):
            assert validate(frame, table).quarantine.height == 0
        row = campaigns.filter(pl.col("budget_id").is_not_null()).sort("campaign_id").row(0, named=True)
        expected = world.campaigns.filter(mine & (pl.col("campaign_id") == row["campaign_id"]))[
            "daily_budget"
        ].item()
        assert row["budget_amount_micros"] == round(expected * 1_000_000)
        new_amount = row["budget_amount_micros"] + 5_000_000

        dry = g.mutate_campaign_budgets([(row["budget_id"], new_amount)], validate_only=True)
        assert dry.ok
        assert (
            g.list_campaigns()
            .filter(pl.col("campaign_id") == row["campaign_id"])["budget_amount_micros"]
            .item()
            == row["budget_amount_micros"]
        )

        real = g.mutate_campaign_budgets(
            [(row["budget_id"], new_amount), ("999999999", new_amount)], idempotency_key="dec-g-1"
        )
        assert real.results[0] and real.results[0].endswith(f"/campaignBudgets/{row['budget_id']}")
        assert real.failed_indexes() == {1}
        after = g.list_campaigns().filter(pl.col("budget_id") == row["budget_id"])
        assert set(after["budget_amount_micros"]) == {new_amount}  # a shared budget moves every campaign
    assert len([w for w in api.applied_writes if w.field == "amount_micros"]) == 1
    assert api.injected_faults


def test_google_invalid_gaql_is_permanent(state):
    api = SandboxAPI(state)
    with google(api, accounts(state, "google_ads")[0]) as g, pytest.raises(PermanentError) as ei:
        list(g.search_stream("SELECT nonsense.field FROM campaign"))
    assert "INVALID_ARGUMENT" in str(ei.value.code)


# -- HubSpot ------------------------------------------------------------------------------------------------


def hubspot(api: Any, tenant: str, **kw: Any) -> HubSpotClient:
    return HubSpotClient(
        sandbox_token(tenant), transport=api.transport(), tenant_id=tenant, sleep=no_sleep, **kw
    )


def test_hubspot_full_and_incremental_reads_equal_the_world(state):
    api = SandboxAPI(state, FaultConfig(rate=0.2, seed=3))
    for tenant in sorted(state.world.tenants["tenant_id"]):
        contacts_w = state.world.contacts.filter(pl.col("tenant_id") == tenant)
        deals_w = state.world.deals.filter(pl.col("tenant_id") == tenant)
        small_window = HubSpotSettings(search_window=max(50, contacts_w.height // 3))
        with hubspot(api, tenant, retry=RETRY, settings=small_window) as hs:
            # Archived records are listed apart (archived=true) and never searched: both lists together
            # are the world; the search finds the live ones.
            contacts = pl.concat([hs.fetch_contacts(), hs.fetch_contacts(archived=True)])
            deals = pl.concat([hs.fetch_deals(), hs.fetch_deals(archived=True)])
            since = datetime(2000, 1, 1, tzinfo=UTC)
            inc_contacts = hs.fetch_contacts_modified_since(since)
            inc_deals = hs.fetch_deals_modified_since(since)
        live_w = contacts_w.filter(~pl.col("archived")) if "archived" in contacts_w.columns else contacts_w
        if "archived" in deals_w.columns:
            assert sorted(deals.filter("archived")["id"]) == sorted(deals_w.filter("archived")["deal_id"])
        assert sorted(contacts["id"]) == sorted(contacts_w["contact_id"])
        assert sorted(inc_contacts["id"]) == sorted(live_w["contact_id"])
        assert sorted(deals["id"]) == sorted(deals_w["deal_id"])
        assert deals["amount"].sum() == money(deals_w["amount"].to_list())
        want_links = deals_w.select(pl.col("deal_id").alias("id"), "contact_id").sort("id")
        assert deals.select("id", "contact_id").sort("id").equals(want_links)
        live_deals = deals.filter(~pl.col("archived")).select("id")
        assert inc_deals.select("id", "contact_id").sort("id").equals(want_links.join(live_deals, on="id"))
        emails = dict(zip(contacts_w["contact_id"], contacts_w["email"], strict=True))
        assert all(emails[i] == e for i, e in zip(contacts["id"], contacts["email"], strict=True))
        joined = contacts.join(contacts_w.select(pl.col("contact_id").alias("id"), "updated_at"), on="id")
        assert (
            joined["lastmodifieddate"] - joined["updated_at"].cast(pl.Datetime("us"))
        ).abs().max() < timedelta(milliseconds=1)
        assert validate(contacts, "hubspot_contacts").quarantine.height == 0
        assert validate(deals, "hubspot_deals").quarantine.height == 0
    assert {kind for _, kind in api.injected_faults} >= {"429", "5xx"}


# -- files ---------------------------------------------------------------------------------------------------


def test_touchpoint_drops_import_completely(state, tmp_path):
    from connectors.sandbox.files import export_touchpoint_range

    tp = state.world.touchpoints
    ts = tp["event_ts"]
    if getattr(ts.dtype, "time_zone", None):
        ts = ts.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    start, end = ts.min().date() - timedelta(days=1), ts.max().date() + timedelta(days=1)
    paths = export_touchpoint_range(state, tmp_path / "inbox", start, end)
    result = import_touchpoint_files(paths, landing=LandingZone(tmp_path / "landing"))
    assert result.errors == []
    assert result.frame.height == tp.height
    assert sorted(result.frame["event_id"]) == sorted(tp["event_id"].cast(pl.String))
    assert validate(result.frame, "touchpoints").quarantine.height == 0
