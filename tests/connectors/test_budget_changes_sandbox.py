"""Budget change logs (issue 4) read through the production clients from the fake APIs: the events
rebuild the world's planned budgets (truth/campaign_budgets), and the API's limits are enforced."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from typing import Any

import httpx
import polars as pl
import pytest

from connectors.errors import PermanentError
from connectors.google_ads import BUDGET_CHANGES_GAQL, GoogleAdsClient
from connectors.meta_ads import MetaAdsClient, MetaSettings
from connectors.sandbox.api import SandboxAPI, sandbox_token
from connectors.sandbox.generator import ensure_world
from connectors.sandbox.state import SandboxState


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> Any:
    world = tmp_path_factory.mktemp("budgets") / "world"
    shutil.copytree(ensure_world("tiny", 7, tmp_path_factory.mktemp("src")), world)
    return SandboxState(world)


def _accounts(state: Any, platform: str) -> list[dict[str, Any]]:
    return state.world.accounts.filter(pl.col("platform") == platform).sort("tenant_id").to_dicts()


def _truth(state: Any, platform: str) -> pl.DataFrame:
    budgets = state.world.truth["campaign_budgets"].filter(pl.col("platform") == platform)
    return budgets.filter(pl.col("date") <= state.today)


def _carry_forward(events: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """Per (campaign_id, date) of `days`: the newest event's budget on or before that day."""
    return days.sort("date").join_asof(
        events.sort("date"), on="date", by="campaign_id", strategy="backward", check_sortedness=False
    )


def _meta(state: Any, acct: dict[str, Any], **kw: Any) -> MetaAdsClient:
    api = SandboxAPI(state)
    return MetaAdsClient(
        sandbox_token(acct["tenant_id"]), acct["account_id"], transport=api.transport(),
        tenant_id=acct["tenant_id"], sleep=lambda _: None, **kw,
    )  # fmt: skip


def test_meta_activity_log_rebuilds_the_planned_budgets(state) -> None:
    truth = _truth(state, "meta")
    for acct in _accounts(state, "meta"):
        with _meta(state, acct) as meta:
            events = meta.fetch_budget_changes()
        # small pages: the same events, in the same order
        with _meta(state, acct, settings=MetaSettings(page_size=3)) as meta:
            paged = meta.fetch_budget_changes()
        assert paged.equals(events)
        assert events["event_type"].is_in(["create_campaign_group", "update_campaign_budget"]).all()
        assert (events["currency"] == acct["currency"]).all()
        mine = truth.join(
            state.world.campaigns.filter(pl.col("account_id") == acct["account_id"]).select("campaign_id"),
            on="campaign_id",
        )
        creations = events.filter(pl.col("event_type") == "create_campaign_group")
        assert creations["old_budget"].is_null().all()
        assert sorted(creations["object_id"]) == sorted(mine["campaign_id"].unique())
        rebuilt = _carry_forward(
            events.select(
                pl.col("object_id").alias("campaign_id"),
                pl.col("event_date").alias("date"),
                (pl.col("new_budget") / 100).alias("built"),
            ),
            mine.select("campaign_id", "date", "daily_budget"),
        )
        assert rebuilt["built"].null_count() == 0
        assert (rebuilt["built"] - rebuilt["daily_budget"]).abs().max() < 0.005
        # since/until (days, until exclusive) bound the events
        cut = date(2026, 9, 1)
        with _meta(state, acct) as meta:
            later = meta.fetch_budget_changes(since=cut)
            earlier = meta.fetch_budget_changes(until=cut)
        assert later.height + earlier.height == events.height
        assert (later["event_date"] >= cut).all() and (earlier["event_date"] < cut).all()


def test_meta_activity_log_rejects_unknown_fields(state) -> None:
    acct = _accounts(state, "meta")[0]
    api = SandboxAPI(state)
    with httpx.Client(transport=api.transport(), base_url="https://graph.facebook.com") as http:
        answer = http.get(
            f"/v21.0/act_{acct['account_id']}/activities",
            params={"fields": "event_time,budget"},
            headers={"authorization": f"Bearer {sandbox_token(acct['tenant_id'])}"},
        )
    assert answer.status_code == 400
    assert "fields[1]" in answer.json()["error"]["message"]


def _google(state: Any, acct: dict[str, Any]) -> GoogleAdsClient:
    return GoogleAdsClient(
        sandbox_token(acct["tenant_id"]), "sandbox-dev-token", acct["account_id"],
        transport=SandboxAPI(state).transport(), tenant_id=acct["tenant_id"], sleep=lambda _: None,
    )  # fmt: skip


def test_google_change_events_rebuild_the_last_30_days(state) -> None:
    today = state.today
    first = today - timedelta(days=29)
    truth = _truth(state, "google_ads")
    split_tested = 0
    for acct in _accounts(state, "google_ads"):
        with _google(state, acct) as google:
            events = google.fetch_budget_changes(first, today)
            busiest = int(events.group_by("change_date").len()["len"].max())  # type: ignore[arg-type]
            # a LIMIT just above the busiest day: windows halve until each answer fits
            split = google.fetch_budget_changes(first, today, limit=busiest + 1)
        split_tested += busiest + 1 < events.height
        assert split.sort("resource_name").equals(events.sort("resource_name"))
        mine = truth.join(
            state.world.campaigns.filter(pl.col("account_id") == acct["account_id"]).select("campaign_id"),
            on="campaign_id",
        ).filter(pl.col("date") >= first)
        assert events.height > 0 and (events["change_date"] >= first).all()
        # each event: on a day the budget changed, from the day before's budget to the day's
        day_before = mine.select(
            "campaign_id",
            (pl.col("date") + timedelta(days=1)).alias("date"),
            pl.col("daily_budget").alias("prev"),
        )
        checked = (
            events.filter(pl.col("operation") == "UPDATE")
            .select(
                "campaign_id", pl.col("change_date").alias("date"), "old_amount_micros", "new_amount_micros"
            )
            .join(mine, on=["campaign_id", "date"], how="left")
            .join(day_before, on=["campaign_id", "date"], how="left")
        )
        assert checked["daily_budget"].null_count() == 0
        assert (checked["new_amount_micros"] == (checked["daily_budget"] * 1e6).round(0)).all()
        assert (checked["old_amount_micros"] == (checked["prev"] * 1e6).round(0)).all()
        # and every change of the window is there
        changes = mine.sort("date").with_columns(prev=pl.col("daily_budget").shift(1).over("campaign_id"))
        n_changes = changes.filter(pl.col("prev").is_not_null() & (pl.col("prev") != pl.col("daily_budget")))
        assert checked.height == n_changes.height
    assert split_tested  # some account had more events than the LIMIT: the windows were split


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (BUDGET_CHANGES_GAQL.replace(" LIMIT {limit}", ""), "LIMIT_NOT_SPECIFIED_OR_TOO_LARGE"),
        (BUDGET_CHANGES_GAQL.replace("{limit}", "10001"), "LIMIT_NOT_SPECIFIED_OR_TOO_LARGE"),
        ("old", "START_DATE_TOO_OLD"),
        (
            "SELECT change_event.resource_name FROM change_event "
            "WHERE change_event.change_date_time >= '{since}' LIMIT 10",
            "CHANGE_DATE_RANGE_INFINITE",
        ),
    ],
)
def test_google_change_event_limits_are_enforced(state, query: str, code: str) -> None:
    acct = _accounts(state, "google_ads")[0]
    today = state.today
    since = today - timedelta(days=31 if query == "old" else 10)
    text = (BUDGET_CHANGES_GAQL if query == "old" else query).format(
        since=since.isoformat(), until=today.isoformat(), limit=100
    )
    with _google(state, acct) as google, pytest.raises(PermanentError) as err:
        google.search_stream_page(text)
    assert code in str(err.value)
