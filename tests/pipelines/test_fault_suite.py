"""The fault suite (issue 3) through Dagster on the tiny world: for every fault kind and every source
(Meta, Google Ads, HubSpot, LinkedIn, TikTok, Mailchimp, social listening) the loaded raw totals equal
the fault-free run with no key twice, drift lands in ops.schema_drift; a missing column quarantines the
rows with the reason and a clean rerun makes them whole; restated days are replaced, never appended; a
window that still fails fails alone and leaves its previous rows intact."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

TODAY = date(2026, 10, 31)  # the tiny world's last day
WINDOW = (date(2026, 10, 24), TODAY)  # reaches the newest day: Meta re-pulls 28 days, the others 7


@dataclass(frozen=True)
class Source:
    """A fake API and what it lands: raw table -> (unique key, columns whose totals must hold), and the
    names it writes to ops.load_log / ops.schema_drift / ops.quarantine."""

    platform: str  # FaultConfig / SandboxAPI platform name
    tables: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]
    logged_as: tuple[str, ...]


SOURCES = {
    "meta": Source(
        "meta",
        {"raw.meta_ads_insights": (("tenant_id", "ad_id", "date_start"),
                                   ("spend", "impressions", "clicks", "conversions", "conversion_value"))},
        ("meta_ads",),
    ),
    "google_ads": Source(
        "google_ads",
        {"raw.google_ads_ad_stats": (("tenant_id", "ad_id", "date"),
                                     ("cost_micros", "impressions", "clicks", "conversions", "conversions_value"))},
        ("google_ads",),
    ),
    "hubspot": Source(
        "hubspot",
        {"raw.hubspot_contacts": (("tenant_id", "id"), ()), "raw.hubspot_deals": (("tenant_id", "id"), ("amount",))},
        ("hubspot_contacts", "hubspot_deals"),
    ),
    "linkedin": Source(
        "linkedin",
        {"raw.linkedin_ads_creative_stats": (("tenant_id", "creative_id", "date"),
                                             ("cost_in_local_currency", "impressions", "clicks",
                                              "external_website_conversions", "conversion_value_in_local_currency"))},
        ("linkedin_ads",),
    ),
    "tiktok": Source(
        "tiktok",
        {"raw.tiktok_ads_ad_stats": (("tenant_id", "ad_id", "stat_time_day"),
                                     ("spend", "impressions", "clicks", "conversion", "total_purchase_value"))},
        ("tiktok_ads",),
    ),
    "mailchimp": Source(
        "mailchimp",
        {"raw.mailchimp_email_reports": (("tenant_id", "campaign_id"),
                                         ("emails_sent", "hard_bounces", "soft_bounces", "opens_total",
                                          "unique_opens", "clicks_total", "unique_clicks", "unsubscribed"))},
        ("mailchimp_email_reports",),
    ),
    "social": Source(
        "social",
        {
            "raw.social_posts": (("tenant_id", "platform", "post_id"),
                                 ("reach", "impressions", "likes", "comments", "shares", "saves", "link_clicks")),
            "raw.social_mentions": (("tenant_id", "platform", "mention_id"),
                                    ("likes", "reposts", "author_followers")),
            "raw.social_influencers": (("tenant_id", "platform", "influencer_id"), ("followers", "avg_reach")),
        },
        ("social_posts", "social_mentions", "social_influencers"),
    ),
}  # fmt: skip
RESTATED = {"conversions", "conversion_value", "conversions_value"}
# Transient kinds hit one request in five (retries get through); the body kinds that leave the numbers
# readable hit every answer of every platform, so each source is sure to see them.
RATES = {"429": 0.2, "throttle": 0.2, "5xx": 0.2, "timeout": 0.2, "drop": 0.2,
         "duplicate": 1.0, "drift_new_column": 1.0, "drift_text_number": 1.0}  # fmt: skip


def _ingest(settings, start: date = WINDOW[0], end: date = WINDOW[1], *, ok: bool = True):
    from pipelines.demo import materialize_range

    result = materialize_range(settings, start, end, selection="ingest")
    if ok:
        failures = [
            f"{e.step_key}: {e.event_specific_data.error.message}"
            for e in result.all_events
            if e.event_type_value == "STEP_FAILURE"
        ]
        assert result.success, "\n".join(failures)
    return result


def _query(path: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(sql).pl()


def _totals(path: Path, tables: Iterable[str] | None = None) -> dict[str, dict[str, object]]:
    out = {}
    for source in SOURCES.values():
        for table, (_, columns) in source.tables.items():
            if tables is not None and table not in tables:
                continue
            sums = ", ".join([f"sum({c}) as {c}" for c in columns] + ["count(*) as n_rows"])
            out[table] = _query(path, f"select {sums} from {table}").row(0, named=True)
    return out


def _assert_no_duplicates(path: Path, source: Source) -> None:
    for table, (key, _) in source.tables.items():
        cols = ", ".join(key)
        dup = _query(path, f"select {cols}, count(*) n from {table} group by all having n > 1")
        assert dup.height == 0, f"{table}: {dup.height} duplicated key(s)"


def _ops(path: Path, table: str, columns: str, source: Source) -> pl.DataFrame:
    names = ", ".join(f"'{n}'" for n in source.logged_as)
    return _query(path, f"select {columns} from ops.{table} where source in ({names})")


def _repeats_dropped(path: Path, source: Source) -> int:
    details = _ops(path, "load_log", "detail", source)["detail"].to_list()
    return sum(int(m) for d in details for m in re.findall(r"(\d+) repeated row\(s\) dropped", d or ""))


@pytest.fixture(scope="module")
def clean(tmp_path_factory, tiny_world_root):
    settings = tiny_settings(fresh_home(tmp_path_factory.mktemp("clean"), tiny_world_root))
    _ingest(settings)
    totals = _totals(settings.warehouse)
    for table, sums in totals.items():  # every source landed something: the comparisons below bite
        assert sums["n_rows"] > 0, f"{table} is empty in the fault-free run"
    return totals, settings.warehouse


@pytest.fixture(scope="module")
def faulted(tmp_path_factory, tiny_world_root):
    """One ingest run per fault kind, every platform faulty at once (shared by the per-source tests)."""
    runs: dict[str, Path] = {}

    def run(kind: str) -> Path:
        if kind not in runs:
            home = fresh_home(tmp_path_factory.mktemp(f"fault-{kind}"), tiny_world_root)
            settings = tiny_settings(home, MOS_FAULT_RATE=str(RATES[kind]), MOS_FAULT_KINDS=kind)
            _ingest(settings)
            runs[kind] = settings.warehouse
        return runs[kind]

    return run


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("kind", list(RATES))
def test_each_fault_kind_loads_the_fault_free_totals(kind, source, clean, faulted) -> None:
    spec = SOURCES[source]
    clean_totals, clean_path = clean
    path = faulted(kind)
    assert _totals(path, spec.tables) == {t: clean_totals[t] for t in spec.tables}  # money to the cent
    _assert_no_duplicates(path, spec)
    assert _ops(path, "quarantine", "reason", spec).height == 0
    log = _ops(path, "load_log", "status, detail", spec)
    assert log.height > 0 and "failed" not in log["status"].to_list()
    drift = _ops(path, "schema_drift", "kind, column_name", spec)
    if kind == "drift_new_column":
        assert "new_column" in drift["kind"].to_list()
    elif kind == "drift_text_number":
        assert "type_changed" in drift["kind"].to_list()
    else:
        assert drift.height == 0, drift
    if kind == "duplicate":
        assert _repeats_dropped(path, spec) > _repeats_dropped(clean_path, spec)


def test_restate_fault_then_a_clean_rerun_replaces(clean, tmp_path, tiny_world_root) -> None:
    clean_totals, _ = clean
    home = fresh_home(tmp_path, tiny_world_root)
    _ingest(tiny_settings(home, MOS_FAULT_RATE="0.3", MOS_FAULT_KINDS="restate"))
    restated = _totals(tiny_settings(home).warehouse)
    for table, sums in clean_totals.items():  # only conversions move; nothing appended
        assert {k: v for k, v in restated[table].items() if k not in RESTATED} == {
            k: v for k, v in sums.items() if k not in RESTATED
        }, table
    assert restated != clean_totals  # some restated conversions were loaded
    _ingest(tiny_settings(home))
    assert _totals(tiny_settings(home).warehouse) == clean_totals


@pytest.fixture(scope="module")
def missing_column(tmp_path_factory, tiny_world_root):
    """Every answer of every platform lacks one required field; then a clean rerun on the same home."""
    home = fresh_home(tmp_path_factory.mktemp("missing"), tiny_world_root)
    settings = tiny_settings(home, MOS_FAULT_RATE="1.0", MOS_FAULT_KINDS="drift_missing_column")
    _ingest(settings)
    during = _totals(settings.warehouse)
    quarantined = _query(settings.warehouse, "select source, field, reason from ops.quarantine")
    # how many rows each load quarantined (ops.quarantine itself loses the records of people erased
    # after the load, GDPR requests being part of the run)
    counted = _query(
        settings.warehouse, "select source, sum(rows_quarantined) n from ops.load_log group by 1"
    )
    drift = _query(settings.warehouse, "select source, kind, column_name from ops.schema_drift")
    _ingest(tiny_settings(home))  # the platforms answer in full again
    return during, quarantined, dict(counted.iter_rows()), drift, _totals(settings.warehouse)


@pytest.mark.parametrize("source", list(SOURCES))
def test_missing_column_rows_are_quarantined_with_their_reason(source, clean, missing_column) -> None:
    spec = SOURCES[source]
    clean_totals, _ = clean
    during, quarantined, counted, drift, after = missing_column
    for table, logged in zip(spec.tables, spec.logged_as, strict=True):
        mine = quarantined.filter(pl.col("source") == logged)
        assert mine.height > 0, f"{table}: nothing quarantined"
        assert all("absent from the platform's answer" in r for r in mine["reason"]), mine["reason"].unique()
        # every row is accounted for: loaded, or quarantined with the reason (none silently dropped).
        # The run's GDPR erasures remove erased people's records from ops.quarantine, and erased
        # contacts from raw too (HubSpot), so there the count is bounded from both sides.
        missing = clean_totals[table]["n_rows"] - during[table]["n_rows"]
        if source == "hubspot":
            assert mine.height <= missing <= counted[logged], table
        else:
            assert missing == counted[logged] == mine.height, table
        assert "missing_column" in drift.filter(pl.col("source") == logged)["kind"].to_list(), table
        assert after[table] == clean_totals[table], f"{table}: a clean rerun does not make it whole"


def test_a_restated_day_is_replaced_after_advance(tmp_path, tiny_world_root) -> None:
    from connectors.sandbox.state import SandboxState
    from connectors.sandbox.world import world_dir

    home = fresh_home(tmp_path / "a", tiny_world_root)
    settings = tiny_settings(home)
    _ingest(settings)
    before = _meta_by_day(settings.warehouse)
    state_dir = world_dir(settings.sandbox_dir, "tiny", 7)
    SandboxState(state_dir).advance(1)
    new_day = TODAY + timedelta(days=1)
    _ingest(tiny_settings(home), new_day, new_day)  # the daily run: one new day + the look-back
    after = _meta_by_day(settings.warehouse)
    _assert_no_duplicates(settings.warehouse, SOURCES["meta"])
    shared = before.join(after, on="date_start", suffix="_after")
    assert (shared["rows"] == shared["rows_after"]).all()  # replaced, never appended
    assert (shared["conversions_after"] >= shared["conversions"]).all()
    assert (shared["conversions_after"] > shared["conversions"]).any()  # matured on the later pull
    assert new_day in after["date_start"].to_list()

    # The same days loaded fresh from the advanced world give the same rows.
    other = tmp_path / "b" / "home"
    shutil.copytree(home / "sandbox", other / "sandbox")
    fresh = tiny_settings(other)
    _ingest(fresh, TODAY - timedelta(days=27), new_day)
    assert _meta_by_day(fresh.warehouse).equals(
        after.filter(pl.col("date_start") >= TODAY - timedelta(days=27))
    )


def _meta_by_day(path: Path) -> pl.DataFrame:
    return _query(
        path,
        "select date_start, count(*) as rows, sum(conversions) as conversions, sum(spend) as spend "
        "from raw.meta_ads_insights group by 1 order by 1",
    )


WINDOWED = {  # ad platforms loaded window by window: (client class, its window read, raw table, day, source)
    "meta": ("connectors.meta_ads:MetaAdsClient", "iter_insights_pages", "raw.meta_ads_insights", "date_start",
             "meta_ads"),
    "linkedin": ("connectors.linkedin_ads:LinkedInAdsClient", "iter_analytics_pages",
                 "raw.linkedin_ads_creative_stats", "date", "linkedin_ads"),
    "tiktok": ("connectors.tiktok_ads:TikTokAdsClient", "iter_report_pages", "raw.tiktok_ads_ad_stats",
               "stat_time_day", "tiktok_ads"),
}  # fmt: skip


@pytest.mark.parametrize("source", list(WINDOWED))
def test_a_failing_window_fails_alone_and_keeps_its_rows(
    source, tmp_path, tiny_world_root, monkeypatch
) -> None:
    import importlib

    from connectors.errors import PermanentError

    target, method, table, day, logged = WINDOWED[source]
    module, _, name = target.partition(":")
    client_class = getattr(importlib.import_module(module), name)
    settings = tiny_settings(fresh_home(tmp_path, tiny_world_root))
    first, last = date(2026, 8, 1), date(2026, 9, 10)  # two request windows: 08-01..08-31, 09-01..09-10
    _ingest(settings, first, last)
    sql = f"select {day}, * exclude ({day}) from {table} order by all"
    before = _query(settings.warehouse, sql)
    original = getattr(client_class, method)

    def broken(self, since, until, *args, **kwargs):
        if str(since) == "2026-09-01":
            raise PermanentError("simulated: this window cannot be read", platform=source)
        return original(self, since, until, *args, **kwargs)

    monkeypatch.setattr(client_class, method, broken)
    result = _ingest(settings, first, last, ok=False)
    assert not result.success
    after = _query(settings.warehouse, sql)
    september = pl.col(day) >= date(2026, 9, 1)
    assert before.filter(september).height > 0
    assert after.filter(september).equals(before.filter(september))  # untouched, the old run's rows
    august_runs = set(after.filter(~september)["_run_id"]) - set(before["_run_id"])
    assert august_runs  # the other window loaded in the failed run
    failed = _query(
        settings.warehouse,
        "select tenant_id, source, partition, detail from ops.load_log where status = 'failed'",
    )
    assert set(failed["source"]) == {logged}
    assert set(failed["partition"]) == {"2026-09-01..2026-09-10"}
    assert all("cannot be read" in d for d in failed["detail"])
