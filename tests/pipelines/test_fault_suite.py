"""The fault suite (issue 3) through Dagster on the tiny world: for every fault kind the loaded raw
totals equal the fault-free run with no row twice; restated days are replaced, never appended; a
window that still fails fails alone and leaves its previous rows intact."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

TODAY = date(2026, 10, 31)  # the tiny world's last day
WINDOW = (date(2026, 10, 24), TODAY)  # reaches the newest day: Meta re-pulls 28 days, Google 7
KEYS = {
    "raw.meta_ads_insights": ("tenant_id", "ad_id", "date_start"),
    "raw.google_ads_ad_stats": ("tenant_id", "ad_id", "date"),
    "raw.hubspot_contacts": ("tenant_id", "id"),
    "raw.hubspot_deals": ("tenant_id", "id"),
}
TOTALS = {
    "raw.meta_ads_insights": ("spend", "impressions", "clicks", "conversions", "conversion_value"),
    "raw.google_ads_ad_stats": ("cost_micros", "impressions", "clicks", "conversions", "conversions_value"),
    "raw.hubspot_contacts": (),
    "raw.hubspot_deals": ("amount",),
}
RESTATED = {"conversions", "conversion_value", "conversions_value"}


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


def _totals(path: Path) -> dict[str, dict[str, object]]:
    out = {}
    for table, columns in TOTALS.items():
        sums = ", ".join([f"sum({c}) as {c}" for c in columns] + ["count(*) as n_rows"])
        out[table] = _query(path, f"select {sums} from {table}").row(0, named=True)
    return out


def _assert_no_duplicates(path: Path) -> None:
    for table, key in KEYS.items():
        cols = ", ".join(key)
        dup = _query(path, f"select {cols}, count(*) n from {table} group by all having n > 1")
        assert dup.height == 0, f"{table}: {dup.height} duplicated key(s)"


@pytest.fixture(scope="module")
def clean(tmp_path_factory, tiny_world_root):
    settings = tiny_settings(fresh_home(tmp_path_factory.mktemp("clean"), tiny_world_root))
    _ingest(settings)
    return _totals(settings.warehouse)


@pytest.mark.parametrize(
    "kind",
    ["429", "throttle", "5xx", "timeout", "drop", "duplicate", "drift_new_column", "drift_text_number"],
)
def test_each_fault_kind_loads_the_fault_free_totals(kind, clean, tmp_path, tiny_world_root) -> None:
    settings = tiny_settings(
        fresh_home(tmp_path, tiny_world_root), MOS_FAULT_RATE="0.2", MOS_FAULT_KINDS=kind
    )
    _ingest(settings)
    assert _totals(settings.warehouse) == clean
    _assert_no_duplicates(settings.warehouse)
    assert _query(settings.warehouse, "select count(*) n from ops.quarantine")["n"].item() == 0
    log = _query(settings.warehouse, "select status, detail from ops.load_log")
    assert "failed" not in log["status"].to_list()
    drift = _query(settings.warehouse, "select kind, column_name from ops.schema_drift")
    if kind == "drift_new_column":
        assert "new_column" in drift["kind"].to_list()
    if kind == "drift_text_number":
        assert "type_changed" in drift["kind"].to_list()
    if kind == "duplicate":
        assert any("repeated row(s) dropped" in (d or "") for d in log["detail"].to_list())


def test_restate_fault_then_a_clean_rerun_replaces(clean, tmp_path, tiny_world_root) -> None:
    home = fresh_home(tmp_path, tiny_world_root)
    _ingest(tiny_settings(home, MOS_FAULT_RATE="0.3", MOS_FAULT_KINDS="restate"))
    restated = _totals(tiny_settings(home).warehouse)
    for table, sums in clean.items():  # only conversions move; nothing appended
        assert {k: v for k, v in restated[table].items() if k not in RESTATED} == {
            k: v for k, v in sums.items() if k not in RESTATED
        }
    _ingest(tiny_settings(home))
    assert _totals(tiny_settings(home).warehouse) == clean


def test_missing_column_rows_are_quarantined_with_their_reason(clean, tmp_path, tiny_world_root) -> None:
    home = fresh_home(tmp_path, tiny_world_root)
    settings = tiny_settings(home, MOS_FAULT_RATE="0.2", MOS_FAULT_KINDS="drift_missing_column")
    _ingest(settings)
    loaded = _totals(settings.warehouse)
    quarantined = _query(
        settings.warehouse, "select source, field, reason from ops.quarantine where reason like '%absent%'"
    )
    assert quarantined.height > 0
    counts = dict(quarantined.group_by("source").len().iter_rows())
    for table, source in (("raw.meta_ads_insights", "meta_ads"), ("raw.google_ads_ad_stats", "google_ads")):
        assert loaded[table]["n_rows"] + counts.get(source, 0) == clean[table]["n_rows"], table
    assert (
        "missing_column" in _query(settings.warehouse, "select kind from ops.schema_drift")["kind"].to_list()
    )
    _ingest(tiny_settings(home))  # the platform answers in full again: the daily slices are whole again
    again = _totals(settings.warehouse)
    for table in ("raw.meta_ads_insights", "raw.google_ads_ad_stats"):
        assert again[table] == clean[table]


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
    _assert_no_duplicates(settings.warehouse)
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


def test_a_failing_window_fails_alone_and_keeps_its_rows(tmp_path, tiny_world_root, monkeypatch) -> None:
    from connectors.errors import PermanentError
    from connectors.meta_ads import MetaAdsClient

    settings = tiny_settings(fresh_home(tmp_path, tiny_world_root))
    first, last = date(2026, 8, 1), date(2026, 9, 10)  # two request windows: 08-01..08-31, 09-01..09-10
    _ingest(settings, first, last)
    sql = "select date_start, ad_id, spend, _run_id from raw.meta_ads_insights order by all"
    before = _query(settings.warehouse, sql)
    original = MetaAdsClient.iter_insights_pages

    def broken(self, since, until, *args, **kwargs):
        if str(since) == "2026-09-01":
            raise PermanentError("simulated: this window cannot be read", platform="meta")
        return original(self, since, until, *args, **kwargs)

    monkeypatch.setattr(MetaAdsClient, "iter_insights_pages", broken)
    result = _ingest(settings, first, last, ok=False)
    assert not result.success
    after = _query(settings.warehouse, sql)
    september = pl.col("date_start") >= date(2026, 9, 1)
    assert after.filter(september).equals(before.filter(september))  # untouched, the old run's rows
    august_runs = set(after.filter(~september)["_run_id"]) - set(before["_run_id"])
    assert august_runs  # the other window loaded in the failed run
    failed = _query(
        settings.warehouse, "select tenant_id, partition, detail from ops.load_log where status = 'failed'"
    )
    assert set(failed["partition"]) == {"2026-09-01..2026-09-10"}
    assert all("cannot be read" in d for d in failed["detail"])
