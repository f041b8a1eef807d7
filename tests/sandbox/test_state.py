"""SandboxState: writes, the mutation log, and advancing the world day by day."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from connectors.sandbox.channels import PLATFORMS
from connectors.sandbox.response import incremental_conversions
from connectors.sandbox.state import EntityNotFoundError, InvalidMutationError, SandboxState
from connectors.sandbox.world import WORLD_TABLES, World

END = date(2026, 10, 31)


def _active_meta_group(state: SandboxState) -> dict:
    return (
        state.world.ad_groups.filter((pl.col("platform") == "meta") & (pl.col("status") == "ACTIVE"))
        .sort("ad_group_id")
        .row(0, named=True)
    )


def _active_google_campaign(state: SandboxState) -> dict:
    return (
        state.world.campaigns.filter((pl.col("platform") == "google_ads") & (pl.col("status") == "ACTIVE"))
        .sort("campaign_id")
        .row(0, named=True)
    )


def _spend(state: SandboxState, day: date, column: str, entity_id: str) -> int:
    d = state.world.delivery.filter((pl.col("date") == day) & (pl.col(column) == entity_id))
    return int(d["spend_micros"].sum())


def _log(state_dir: Path) -> list[dict]:
    path = state_dir / "state" / "mutations.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_loads_the_world_as_generated(state_dir: Path, tiny_world: World) -> None:
    state = SandboxState(state_dir)
    assert state.today == END
    assert state.world_dir == state_dir
    for name in WORLD_TABLES:
        assert state.world.table(name).equals(tiny_world.table(name)), name


def test_find_entity(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    group = _active_meta_group(state)
    found = state.find_entity("meta", group["ad_group_id"])
    assert found == {**group, "entity_type": "ad_group"}
    ad = state.world.ads.row(0, named=True)
    assert state.find_entity(ad["platform"], ad["ad_id"])["entity_type"] == "ad"
    camp = _active_google_campaign(state)
    assert state.find_entity("google_ads", camp["campaign_id"])["entity_type"] == "campaign"
    assert state.find_entity("google_ads", group["ad_group_id"]) is None  # wrong platform
    assert state.find_entity("meta", "999") is None


def test_writes_update_the_entity_and_log_for_tomorrow(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    group = _active_meta_group(state)
    row = state.set_status("meta", "ad_group", group["ad_group_id"], "PAUSED")
    assert row["status"] == "PAUSED" and row["entity_type"] == "ad_group"
    row = state.set_daily_budget("meta", "ad_group", group["ad_group_id"], 42.123)
    assert row["daily_budget"] == 42.12
    assert state.find_entity("meta", group["ad_group_id"])["daily_budget"] == 42.12
    log = _log(state_dir)
    assert [e["op"] for e in log] == ["set_status", "set_daily_budget"]
    assert all(e["effective_date"] == "2026-11-01" for e in log)
    assert [e["seq"] for e in log] == [1, 2]
    # nothing is simulated by a write
    assert state.today == END and state.world.delivery["date"].max() == END


def test_invalid_writes_are_rejected_and_not_logged(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    group = _active_meta_group(state)
    camp = _active_google_campaign(state)
    with pytest.raises(InvalidMutationError, match="status"):
        state.set_status("meta", "ad_group", group["ad_group_id"], "DELETED")
    with pytest.raises(InvalidMutationError, match="ad_group"):
        state.set_daily_budget("meta", "campaign", group["campaign_id"], 10.0)
    with pytest.raises(InvalidMutationError, match="campaign"):
        state.set_daily_budget("google_ads", "ad_group", "1", 10.0)
    with pytest.raises(InvalidMutationError, match="positive"):
        state.set_daily_budget("google_ads", "campaign", camp["campaign_id"], -5)
    with pytest.raises(InvalidMutationError, match="platform"):
        state.set_status("snapchat", "ad", "1", "PAUSED")
    with pytest.raises(EntityNotFoundError):
        state.set_status("meta", "ad", "123", "PAUSED")
    with pytest.raises(ValueError):
        state.advance(0)
    assert _log(state_dir) == []


def test_advance_appends_days_and_never_changes_the_past(state_dir: Path, tiny_world: World) -> None:
    state = SandboxState(state_dir)
    state.advance(3)
    assert state.today == END + timedelta(days=3)
    assert state.world.meta.end_date == state.today
    for name in ("delivery", "contacts", "deals", "touchpoints", "fx_rates"):
        before = tiny_world.table(name)
        after = state.world.table(name)
        assert after.head(before.height).equals(before), name
        assert after.height > before.height, name
    new = state.world.delivery.filter(pl.col("date") > END)
    assert sorted(new["date"].unique().to_list()) == [END + timedelta(days=i) for i in (1, 2, 3)]
    assert (new["spend_micros"] % 10_000 == 0).all() and (new["spend_micros"] > 0).all()
    for name in ("channel_daily", "baseline_daily", "conversions"):
        before = tiny_world.truth[name]
        assert state.world.truth[name].head(before.height).equals(before), name
    # ids stay unique across the old and the new rows
    for table, column in (("contacts", "contact_id"), ("deals", "deal_id"), ("touchpoints", "event_id")):
        assert state.world.table(table)[column].is_unique().all(), table
    new_contacts = state.world.contacts.tail(state.world.contacts.height - tiny_world.contacts.height)
    assert new_contacts["created_at"].min() > tiny_world.contacts["created_at"].max() - timedelta(days=1)
    fx = state.world.fx_rates.filter(pl.col("date") > END)
    assert fx.height == 6


def test_advanced_days_keep_the_truth_consistent(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    state.advance(5)
    truth = state.world.truth
    # spend in the truth equals delivery, to the cent, on the new days too
    delivered = state.world.delivery.group_by("tenant_id", pl.col("platform").alias("channel"), "date").agg(
        pl.col("spend_micros").sum()
    )
    daily = (
        truth["channel_daily"].join(delivered, on=["tenant_id", "channel", "date"], how="left").fill_null(0)
    )
    assert ((daily["spend"] * 100).round(0).cast(pl.Int64) == daily["spend_micros"] // 10_000).all()
    # adstock carries over: recomputing over the whole extended series gives the saved values
    for p in truth["channel_params"].iter_rows(named=True):
        rows = daily.filter(
            (pl.col("tenant_id") == p["tenant_id"]) & (pl.col("channel") == p["channel"])
        ).sort("date")
        x = rows["spend" if p["channel"] in PLATFORMS else "volume"].to_numpy()
        expected = incremental_conversions(x, p["adstock_decay"], p["hill_k"], p["hill_alpha"], p["beta"])
        np.testing.assert_allclose(rows["incremental_conversions"].to_numpy(), expected, rtol=1e-9)
    # realised conversions are the closedwon deals of each new day
    new_days = truth["baseline_daily"].filter(pl.col("date") > END)
    won = state.world.deals.filter(pl.col("dealstage") == "closedwon").join(
        truth["conversions"].select("deal_id", "date"), on="deal_id"
    )
    per_day = won.group_by("tenant_id", "date").len()
    joined = new_days.join(per_day, on=["tenant_id", "date"], how="left").fill_null(0)
    assert (joined["len"] == joined["total_conversions"]).all()
    assert joined["total_conversions"].sum() > 0
    assert truth["roi"]["spend"].sum() == pytest.approx(truth["channel_daily"]["spend"].sum())


def test_paused_entities_get_no_spend(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    group = _active_meta_group(state)
    camp = _active_google_campaign(state)
    state.advance(1)
    day1 = state.today
    assert _spend(state, day1, "ad_group_id", group["ad_group_id"]) > 0
    assert _spend(state, day1, "campaign_id", camp["campaign_id"]) > 0
    state.set_status("meta", "ad_group", group["ad_group_id"], "PAUSED")
    state.set_status("google_ads", "campaign", camp["campaign_id"], "PAUSED")
    state.advance(1)
    day2 = state.today
    assert _spend(state, day2, "ad_group_id", group["ad_group_id"]) == 0
    assert _spend(state, day2, "campaign_id", camp["campaign_id"]) == 0
    assert _spend(state, day1, "ad_group_id", group["ad_group_id"]) > 0  # yesterday unchanged
    # the rest of the account keeps spending
    assert state.world.delivery.filter(pl.col("date") == day2)["spend_micros"].sum() > 0
    state.set_status("meta", "ad_group", group["ad_group_id"], "ACTIVE")
    state.advance(1)
    assert _spend(state, state.today, "ad_group_id", group["ad_group_id"]) > 0


def test_paused_ad_gets_no_spend(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    ad = state.world.ads.filter(pl.col("status") == "ACTIVE").sort("ad_id").row(0, named=True)
    state.set_status(ad["platform"], "ad", ad["ad_id"], "PAUSED")
    state.advance(2)
    assert state.world.delivery.filter((pl.col("date") > END) & (pl.col("ad_id") == ad["ad_id"])).height == 0


def test_budget_changes_move_spend(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    group = _active_meta_group(state)
    camp = _active_google_campaign(state)
    state.set_daily_budget("meta", "ad_group", group["ad_group_id"], group["daily_budget"] * 4)
    state.set_daily_budget("google_ads", "campaign", camp["campaign_id"], camp["daily_budget"] * 4)
    state.advance(3)
    for column, entity, budget in (
        ("ad_group_id", group["ad_group_id"], group["daily_budget"] * 4),
        ("campaign_id", camp["campaign_id"], camp["daily_budget"] * 4),
    ):
        for offset in (1, 2, 3):
            spend = _spend(state, END + timedelta(days=offset), column, entity) / 1e6
            assert 0.5 * budget <= spend <= 1.25 * budget + 0.01, (column, offset, spend, budget)
        old = state.world.delivery.filter(
            (pl.col("date") > END - timedelta(days=14)) & (pl.col("date") <= END)
        )
        old_daily = old.filter(pl.col(column) == entity)["spend_micros"].sum() / 14 / 1e6
        assert spend > 2 * old_daily


def test_replaying_the_log_rebuilds_the_same_world(state_dir: Path, tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(state_dir, pristine)

    def scenario(state: SandboxState) -> None:
        group = _active_meta_group(state)
        camp = _active_google_campaign(state)
        state.advance(2)
        state.set_status("meta", "ad_group", group["ad_group_id"], "PAUSED")
        state.set_daily_budget("google_ads", "campaign", camp["campaign_id"], 77.5)
        state.advance(1)
        state.advance(2)

    first = SandboxState(state_dir)
    scenario(first)
    replayed = SandboxState(state_dir)  # same directory: replays the log
    other = SandboxState(pristine)  # independent copy, same operations
    scenario(other)
    assert replayed.today == first.today == other.today == END + timedelta(days=5)
    for name in WORLD_TABLES:
        assert replayed.world.table(name).equals(first.world.table(name)), name
        assert other.world.table(name).equals(first.world.table(name)), name
    for name, frame in first.world.truth.items():
        assert replayed.world.truth[name].equals(frame), name


def test_a_broken_log_is_a_clear_error(state_dir: Path) -> None:
    (state_dir / "state").mkdir()
    (state_dir / "state" / "mutations.jsonl").write_text(
        '{"op": "advance", "days": 1, "from": "2027-01-01"}\n'
    )
    with pytest.raises(ValueError, match="out of order"):
        SandboxState(state_dir)
    (state_dir / "state" / "mutations.jsonl").write_text("not json\n")
    with pytest.raises(ValueError, match=r"mutations\.jsonl:1"):
        SandboxState(state_dir)


def test_touchpoints_for_day(state_dir: Path) -> None:
    state = SandboxState(state_dir)
    state.advance(1)
    day = state.today
    rows = state.touchpoints_for_day(day)
    assert rows.height > 0 and set(rows["tenant_id"].unique()) == {"northwind", "bellavista"}
    new_rows = state.world.touchpoints.tail(rows.height)
    assert rows.sort("event_id").equals(new_rows.sort("event_id"))  # the new day's rows exactly
    assert state.touchpoints_for_day(day, "northwind")["tenant_id"].unique().to_list() == ["northwind"]
    assert state.touchpoints_for_day(day + timedelta(days=1)).height == 0
