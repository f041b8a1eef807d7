"""The Streamlit app, headless (AppTest): the shared frame, every page, the unhappy paths."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboards.conftest import APP
from tests.dashboards.snapshot_fixture import write_snapshot

PAGES = ["views/overview.py", "views/channels.py"]
TIMEOUT = 60


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("title", "caption", "info", "warning", "error", "markdown")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_overview_renders_inside_the_frame(snapshot: Path) -> None:
    at = _app().run()

    assert not at.exception
    assert [t.value for t in at.title] == ["Overview"]
    tenant = at.sidebar.selectbox(key="tenant_id")
    assert tenant.options == ["Bella Vista Home", "Northwind Outfitters"]
    assert [m.label for m in at.metric] == ["Spend", "Attributed revenue", "ROAS", "Conversions", "CPA"]
    assert all(m.value.startswith("€") for m in at.metric if m.label in ("Spend", "CPA"))
    assert all(m.delta.startswith(("+", "-")) for m in at.metric)
    assert "Changes compare with the previous 28 days (06 Sep – 03 Oct 2026)" in _texts(at)
    assert "Snapshot published 2026-11-01 06:30 UTC" in _texts(at)
    assert len(at.dataframe) == 1  # latest proposed decisions
    assert set(at.dataframe[0].value["status"]) == {"proposed"}


def test_switching_tenant_changes_every_number(snapshot: Path) -> None:
    at = _app().run()
    before = [m.value for m in at.metric]

    at.sidebar.selectbox(key="tenant_id").select("northwind").run()

    assert not at.exception
    assert at.session_state["tenant_id"] == "northwind"
    after = [m.value for m in at.metric]
    assert after != before
    assert after[0].startswith("$")
    assert "Northwind Outfitters" in _texts(at)


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("tenant", ["bellavista", "northwind"])
def test_each_page_renders_with_the_shared_frame(snapshot: Path, page: str, tenant: str) -> None:
    at = _app().run()
    at.sidebar.selectbox(key="tenant_id").select(tenant).run()

    at.switch_page(page).run()

    assert not at.exception
    assert len(at.title) == 1, "the entry point's frame must wrap every page"
    assert at.sidebar.selectbox(key="tenant_id").value == tenant
    assert not at.error


def test_tenant_and_dates_survive_a_page_switch(snapshot: Path) -> None:
    at = _app().run()
    at.sidebar.selectbox(key="tenant_id").select("northwind").run()
    at.sidebar.date_input(key="date_range").set_value((date(2026, 10, 18), date(2026, 10, 31))).run()

    at.switch_page("views/channels.py").run()

    assert not at.exception
    assert at.sidebar.selectbox(key="tenant_id").value == "northwind"
    assert at.sidebar.date_input(key="date_range").value == (date(2026, 10, 18), date(2026, 10, 31))
    assert "(14 days)" in _texts(at)


def test_date_range_drives_the_kpi_comparison(snapshot: Path) -> None:
    at = _app().run()
    at.sidebar.date_input(key="date_range").set_value((date(2026, 10, 18), date(2026, 10, 31))).run()

    assert not at.exception
    assert all(m.delta for m in at.metric)
    assert "Changes compare with the previous 14 days (04 Oct – 17 Oct 2026)" in _texts(at)

    # A previous period reaching back before the data is no comparison: no delta rather than a bogus one.
    at.sidebar.date_input(key="date_range").set_value((date(2026, 9, 10), date(2026, 10, 31))).run()
    assert not at.exception
    assert all(not m.delta for m in at.metric)


def test_channels_page_weekly_toggle_and_forecast_pickers(snapshot: Path) -> None:
    at = _app().run()
    at.switch_page("views/channels.py").run()
    assert [m.label for m in at.metric] == ["Backtest MASE", "Model MAE", "Baseline MAE"]

    at.button_group(key="channels_grain").set_value("week").run()
    assert not at.exception
    assert "Weeks are 7-day periods ending Sat 31 Oct" in _texts(at)
    assert "left out" not in _texts(at)  # 28 days are four whole weeks

    at.sidebar.date_input(key="date_range").set_value((date(2026, 10, 1), date(2026, 10, 31))).run()
    assert "The 3 oldest days do not fill a week and are left out." in _texts(at)

    at.selectbox(key="fc_channel").select("email").run()
    at.selectbox(key="fc_metric").select("conversions").run()
    assert not at.exception
    assert at.metric[0].value == "1.08"
    assert "does not beat the seasonal-naive baseline" in _texts(at)

    table = at.dataframe[0].value
    meta = table[table["channel"] == "meta"].iloc[0]
    assert meta["platform_roas"] > meta["roas"]  # the fixture's platform over-claims, as they do


def test_missing_snapshot_shows_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOS_SERVING", str(tmp_path / "nope" / "snapshot.duckdb"))
    at = _app().run()

    assert not at.exception
    assert "make demo" in _texts(at)
    assert "No data to show yet" in _texts(at)
    assert not at.metric


def test_missing_snapshot_default_path_follows_mos_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOS_SERVING", raising=False)
    monkeypatch.setenv("MOS_HOME", str(tmp_path / "home"))
    at = _app().run()

    assert not at.exception
    assert str(tmp_path / "home" / "serving" / "snapshot.duckdb") in _texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_missing_table_is_named_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    path = write_snapshot(tmp_path / "snapshot.duckdb", skip=("forecast_backtest",))
    monkeypatch.setenv("MOS_SERVING", str(path))
    at = _app().run()
    at.switch_page(page).run()

    assert not at.exception
    assert "incomplete" in _texts(at)
    assert "`forecast_backtest` is missing" in _texts(at)


def test_a_republished_snapshot_shows_up_on_the_next_rerun(snapshot: Path) -> None:
    at = _app().run()
    assert "run-20261101" in _texts(at)

    # The pipeline publishes by atomic replace; the cache is keyed by the file, not only the TTL.
    fresh = write_snapshot(snapshot.parent / "next.duckdb", seed=11)
    import duckdb

    con = duckdb.connect(str(fresh))
    con.execute("update snapshot_info set run_id = 'run-20261102'")
    con.close()
    os.replace(fresh, snapshot)
    at.run()

    assert not at.exception
    assert "run-20261102" in _texts(at)
