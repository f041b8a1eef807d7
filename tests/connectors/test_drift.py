"""Connectors survive what real answers do: drift reported, text numbers read exactly or quarantined,
dropped pages re-requested, duplicates counted; Meta large ranges through async reports; HubSpot
consent, archived records and the 10,000-result search window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from connectors.drift import QUARANTINE_FIELD, QUARANTINE_REASON, ParseReport, read_number
from connectors.errors import PermanentError
from connectors.google_ads import GoogleAdsClient
from connectors.http import RetryPolicy
from connectors.hubspot import HubSpotClient, HubSpotSettings, parse_deals
from connectors.meta_ads import MetaAdsClient, MetaSettings, parse_insights
from connectors.sandbox.api import FaultConfig, SandboxLimits
from tests.sandbox.api_fixtures import DAYS, GOOGLE_NW, META_NW, FixtureState, make_api

RETRY = RetryPolicy(max_attempts=8, base_delay=0.0, max_delay=0.0)


def _no_sleep(_: float) -> None:
    return None


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("1,234.50", "money", Decimal("1234.50")),
        ("1.234,50", "money", Decimal("1234.50")),
        ("53,39", "money", Decimal("53.39")),
        ("12,345", "int", Decimal(12345)),
        ("1.234,0", "int", Decimal(1234)),
        ("12.3", "float", Decimal("12.3")),
        ("1,234", "money", Decimal(1234)),  # 1.234 is not an amount in cents
        ("1,234", "float", None),  # 1234 or 1.234: ambiguous
        ("1.555", "money", None),  # a plain number with 3 decimals is never rounded, never 1555
        ("12.5", "int", None),
        ("abc", "int", None),
    ],
)
def test_read_number_exact_or_refused(text, kind, expected):
    value, reason = read_number(text, kind)
    assert value == expected
    assert (reason is None) == (expected is not None)


def _meta_row(**changes):
    row = {
        "account_id": "1", "account_currency": "USD", "campaign_id": "1", "campaign_name": "c",
        "adset_id": "2", "adset_name": "s", "ad_id": "3", "ad_name": "a", "spend": "10.00",
        "impressions": "100", "clicks": "5", "date_start": "2026-01-01", "date_stop": "2026-01-01",
    }  # fmt: skip
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def test_meta_drift_is_reported_and_bad_rows_marked_never_nulled():
    report = ParseReport()
    rows = [
        _meta_row(),
        _meta_row(ad_id="4", spend="1,234.50", impressions="12,345", quality_ranking="AVERAGE"),
        _meta_row(ad_id="5", spend=None),  # absent: schema drift
        _meta_row(ad_id="6", clicks="1.5"),  # not a whole number
    ]
    frame = parse_insights([{"data": rows}], "t", report=report)
    assert frame.filter(pl.col("ad_id") == "4")["spend"].item() == Decimal("1234.50")
    assert frame.filter(pl.col("ad_id") == "4")["impressions"].item() == 12345
    marked = frame.filter(pl.col(QUARANTINE_REASON).is_not_null())
    assert marked["ad_id"].to_list() == ["5", "6"]
    assert marked[QUARANTINE_FIELD].to_list() == ["spend", "clicks"]
    assert "absent" in marked[QUARANTINE_REASON][0] and "whole number" in marked[QUARANTINE_REASON][1]
    kinds = {(e.kind, e.column) for e in report.drift}
    assert kinds == {
        ("new_column", "quality_ranking"),
        ("missing_column", "spend"),
        ("type_changed", "spend"),
        ("type_changed", "impressions"),
    }


def test_hubspot_amount_as_text_and_a_missing_property():
    report = ParseReport()
    records = [
        {"id": "1", "properties": {"amount": "1,234.50", "dealstage": "closedwon", "createdate": None}},
        {"id": "2", "properties": {"dealstage": "closedwon", "createdate": None}},
    ]
    frame = parse_deals(
        [{"results": records}], "t", properties=["amount", "dealstage", "createdate"], report=report
    )
    assert frame["amount"][0] == Decimal("1234.50")
    assert frame[QUARANTINE_FIELD].to_list() == [None, "properties.amount"]


@pytest.mark.parametrize("kind", ["drop", "duplicate", "drift_new_column", "drift_text_number", "restate"])
def test_meta_totals_survive_each_fault(kind):
    state = FixtureState()
    clean = _meta_frame(make_api(state))
    api = make_api(state, FaultConfig(rate=0.5, seed=4, kinds=(kind,)))
    report = ParseReport()
    faulty = _meta_frame(api, report=report)
    assert api.injected_faults
    if kind == "duplicate":
        assert faulty.height > clean.height and report.duplicates == 0  # parser keeps rows, loader dedupes
        faulty = faulty.unique(maintain_order=True)
    assert faulty.height == clean.height
    assert QUARANTINE_REASON not in faulty.columns
    for column in ("spend", "impressions", "clicks"):
        assert faulty[column].sum() == clean[column].sum(), column
    if kind != "restate":
        assert faulty["conversions"].sum() == clean["conversions"].sum()
    if kind.startswith("drift"):
        assert report.drift


def _meta_frame(api, report=None) -> pl.DataFrame:
    with MetaAdsClient(
        "sandbox-northwind", META_NW, transport=api.transport(), tenant_id="northwind", retry=RETRY,
        sleep=_no_sleep, settings=MetaSettings(page_size=7),
    ) as client:  # fmt: skip
        if report is not None:
            client.report = report
        return client.fetch_insights(DAYS[0], DAYS[-1])


def test_google_text_conversions_read_exactly():
    state = FixtureState()
    clean = _google(make_api(state))
    report = ParseReport()
    for seed in range(3):  # every text format
        faulty = _google(
            make_api(state, FaultConfig(rate=1.0, seed=seed, kinds=("drift_text_number",))), report
        )
        assert faulty["cost_micros"].sum() == clean["cost_micros"].sum()
        assert faulty["conversions"].sum() == pytest.approx(clean["conversions"].sum())
    assert {e.kind for e in report.drift} == {"type_changed"}


def _google(api, report=None) -> pl.DataFrame:
    with GoogleAdsClient(
        "sandbox-northwind", "dev", GOOGLE_NW, transport=api.transport(), tenant_id="northwind", retry=RETRY,
        sleep=_no_sleep,
    ) as client:  # fmt: skip
        if report is not None:
            client.report = report
        return client.fetch_ad_stats(DAYS[0], DAYS[-1])


# ---- Meta large ranges ---------------------------------------------------------------------------------
def test_meta_too_much_data_falls_back_to_an_async_report_that_is_restarted_when_it_fails():
    state = FixtureState()
    limits = SandboxLimits(meta_sync_max_rows=5, meta_async_polls=2, meta_async_failures=1)
    api = make_api(state, limits=limits)
    waits: list[float] = []
    with MetaAdsClient(
        "sandbox-northwind", META_NW, transport=api.transport(), tenant_id="northwind", sleep=waits.append,
        settings=MetaSettings(async_poll_interval=2.0, async_poll_backoff=2.0),
    ) as client:  # fmt: skip
        frame = client.fetch_insights(DAYS[0], DAYS[-1])
    assert frame.height == _meta_frame(make_api(state)).height
    assert waits[:2] == [2.0, 4.0]  # polls back off
    assert len(api.meta._reports) == 2  # the first job failed, the second completed


def test_meta_long_range_goes_async_without_asking_sync():
    state = FixtureState()
    api = make_api(state)
    with MetaAdsClient(
        "sandbox-northwind", META_NW, transport=api.transport(), tenant_id="northwind", sleep=_no_sleep,
        settings=MetaSettings(async_min_days=7),
    ) as client:  # fmt: skip
        frame = client.fetch_insights(DAYS[0], DAYS[-1])
    assert len(api.meta._reports) == 1 and frame.height == _meta_frame(make_api(state)).height


# ---- HubSpot -------------------------------------------------------------------------------------------
def _consenting_state() -> FixtureState:
    state = FixtureState()
    contacts = state.world.contacts
    n = contacts.height
    opted_out = [i % 5 == 0 for i in range(n)]
    state.world.contacts = contacts.with_columns(
        marketing_opt_in=pl.Series([i % 3 != 0 for i in range(n)]),
        opt_in_date=pl.col("created_at"),
        opt_out_date=pl.when(pl.Series(opted_out)).then(pl.col("updated_at")).otherwise(None),
        archived=pl.Series([i % 7 == 0 for i in range(n)]),
        archived_at=pl.when(pl.Series([i % 7 == 0 for i in range(n)]))
        .then(pl.col("updated_at"))
        .otherwise(None),
    )
    return state


def _hubspot(api, **settings) -> HubSpotClient:
    return HubSpotClient(
        "sandbox-northwind", transport=api.transport(), tenant_id="northwind", sleep=_no_sleep,
        settings=HubSpotSettings(**settings),
    )  # fmt: skip


def test_hubspot_consent_and_archived_contacts():
    state = _consenting_state()
    world = state.world.contacts.filter(pl.col("tenant_id") == "northwind")
    with _hubspot(make_api(state)) as client:
        live = client.fetch_contacts()
        archived = client.fetch_contacts(archived=True)
    assert live.height + archived.height == world.height
    assert archived["archived"].all() and archived["archived_at"].null_count() == 0
    assert not live["archived"].any()
    both = pl.concat([live, archived]).join(
        world.select(pl.col("contact_id").alias("id"), "marketing_opt_in", "opt_out_date"), on="id"
    )
    expected = both["marketing_opt_in_right"] & both["opt_out_date_right"].is_null()
    assert both["marketing_opt_in"].to_list() == expected.to_list()
    assert (both["opt_out_date"].is_null() == both["opt_out_date_right"].is_null()).all()


def test_hubspot_defaults_without_consent_columns():
    with _hubspot(make_api(FixtureState())) as client:
        contacts = client.fetch_contacts()
        archived = client.fetch_contacts(archived=True)
    assert contacts["marketing_opt_in"].all() and archived.height == 0


def _same_stamp_state(shared: int) -> FixtureState:
    """Contacts modified at distinct times except `shared` of them at one instant in the middle."""
    state = FixtureState()
    contacts = state.world.contacts.filter(pl.col("tenant_id") == "northwind").sort("contact_id")
    base = datetime(2026, 1, 2)
    stamps = [base + timedelta(minutes=i) for i in range(contacts.height)]
    middle = contacts.height // 3
    for i in range(middle, middle + shared):
        stamps[i] = base + timedelta(minutes=middle)
    frame = contacts.with_columns(updated_at=pl.Series(stamps, dtype=pl.Datetime("us")))
    others = state.world.contacts.filter(pl.col("tenant_id") != "northwind")
    state.world.contacts = pl.concat([frame, others.cast(frame.schema)])
    return state


@pytest.mark.parametrize("shared", [1, 19])
def test_hubspot_search_moves_its_window_across_the_result_cap(shared):
    """window 20, pages of 5: the search restarts from the last modified date it saw, and records
    sharing that instant (up to 19 of them) are yielded once each."""
    state = _same_stamp_state(shared)
    limits = SandboxLimits(hubspot_search_window=20)
    api = make_api(state, limits=limits)
    with _hubspot(api, search_window=20, search_page_size=5) as client:
        found = client.fetch_contacts_modified_since(datetime(2026, 1, 1, tzinfo=UTC))
    expected = state.world.contacts.filter(pl.col("tenant_id") == "northwind")
    assert found.height == expected.height and found["id"].is_unique().all()


def test_hubspot_search_refuses_more_same_instant_records_than_its_window():
    api = make_api(_same_stamp_state(25), limits=SandboxLimits(hubspot_search_window=20))
    client = _hubspot(api, search_window=20, search_page_size=5)
    with client, pytest.raises(PermanentError, match="share one modified date"):
        client.fetch_contacts_modified_since(datetime(2026, 1, 1, tzinfo=UTC))


def test_hubspot_duplicates_are_counted():
    api = make_api(FixtureState(), FaultConfig(rate=0.5, seed=1, kinds=("duplicate",)))
    with _hubspot(api, page_size=20) as client:
        frame = client.fetch_contacts()
        _, repeated = client.report.take()
    clean = _hubspot(make_api(FixtureState())).fetch_contacts()
    assert frame.height == clean.height and repeated > 0
    assert json.dumps(sorted(frame["id"].to_list())) == json.dumps(sorted(clean["id"].to_list()))


def test_check_rows_reads_text_numbers_in_place_and_marks_what_cannot_load() -> None:
    from connectors.drift import check_rows
    from connectors.tiktok_ads import parse_ad_stats

    def row(spend, impressions, **extra):
        metrics = {"spend": spend, "impressions": impressions, "clicks": "3", **extra}
        return {"dimensions": {"ad_id": "1", "stat_time_day": "2026-03-01 00:00:00"}, "metrics": metrics}

    # TikTok sends metrics as plain text: that is its wire form, not drift
    report = ParseReport()
    plain = parse_ad_stats([{"data": {"list": [row("1234.50", "1000")]}}], "t", "9", report=report)
    assert report.drift == [] and plain["spend"].to_list() == [Decimal("1234.50")]
    # grouped text is read exactly, reported once; a row without a required metric is marked
    pages = [{"data": {"list": [
        row("1,234.50", "1.000,0", reach="7"),
        row("1.234,50", "12,345"),
        {"dimensions": {"ad_id": "2", "stat_time_day": "2026-03-01 00:00:00"}, "metrics": {"spend": "1.00"}},
    ]}}]  # fmt: skip
    frame = parse_ad_stats(pages, "t", "9", report=report)
    assert frame["spend"].to_list()[:2] == [Decimal("1234.50")] * 2
    assert frame["impressions"].to_list()[:2] == [1000, 12345]
    assert frame[QUARANTINE_REASON].to_list()[:2] == [None, None]
    assert "metrics.impressions absent" in frame[QUARANTINE_REASON][2]
    kinds = {(e.kind, e.column) for e in report.drift}
    assert kinds == {
        ("new_column", "metrics.reach"),
        ("type_changed", "metrics.spend"),
        ("type_changed", "metrics.impressions"),
        ("missing_column", "metrics.impressions"),
        ("missing_column", "metrics.clicks"),
    }
    # a JSON-number field sent as any text is drift; a float reading two ways is marked, never guessed
    rows = [{"n": "12"}, {"n": "1,234"}, {"n": 5}]
    issues = check_rows(rows, source="s", report=(r := ParseReport()), numbers={("n",): "float"})
    assert rows[0]["n"] == 12.0 and rows[1]["n"] is None and rows[2]["n"] == 5
    marked = issues.mark(pl.DataFrame({"x": [1, 2, 3]}))
    assert marked[QUARANTINE_REASON].to_list()[0] is None and "ambiguous" in marked[QUARANTINE_REASON][1]
    assert [(e.kind, e.column) for e in r.drift] == [("type_changed", "n")]
