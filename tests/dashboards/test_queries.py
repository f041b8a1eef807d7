"""The one query module: bound parameters, short-lived read-only connections, correct numbers."""

from __future__ import annotations

import ast
import inspect
import os
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboards import charts, queries
from tests.dashboards.snapshot_fixture import build_tables, write_snapshot

START, END = date(2026, 10, 4), date(2026, 10, 31)
HOSTILE = ["x' or '1'='1", "northwind' --", "northwind'; drop table tenants; --", "%", "*"]


@pytest.mark.parametrize("tenant", HOSTILE)
def test_tenant_ids_are_bound_parameters_not_sql(snapshot: Path, tenant: str) -> None:
    wide = (date(2000, 1, 1), date(2100, 1, 1))
    assert queries.channel_daily(tenant, *wide).empty
    assert queries.channel_summary(tenant, *wide).empty
    assert queries.campaign_daily(tenant, *wide).empty
    assert queries.forecast(tenant).empty
    assert queries.forecast_backtest(tenant).empty
    assert queries.forecast_actuals(tenant, "meta", "spend", END).empty
    assert queries.forecast_actuals("northwind", tenant, "spend", END).empty
    assert queries.decisions(tenant).empty
    assert queries.date_bounds(tenant) == (None, None)
    assert queries.kpis(tenant, START, END)["value"].isna().all()
    assert len(queries.tenants()) == 2  # and nothing was dropped


def test_no_sql_is_built_from_strings() -> None:
    """Every execute() gets a literal or a name, never an f-string, `+` or `.format()`."""
    tree = ast.parse(inspect.getsource(queries))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"execute", "sql", "query"}
    ]
    assert calls
    for call in calls:
        assert isinstance(call.args[0], ast.Constant | ast.Name), ast.unparse(call)
    frames = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_frame"]
    for call in frames:
        assert isinstance(call.args[0], ast.Constant | ast.Name), ast.unparse(call)


def test_only_the_query_module_touches_duckdb() -> None:
    root = Path(queries.__file__).parent
    users = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "duckdb" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "duckdb")
            for n in ast.walk(ast.parse(p.read_text()))
        )
    )
    assert users == ["queries.py"]


def test_connections_are_closed_after_each_read(snapshot: Path) -> None:
    queries.channel_daily("northwind", START, END)
    queries.kpis("northwind", START, END)
    # DuckDB refuses a read-write connection while a read-only one to the same file is open in-process.
    con = duckdb.connect(str(snapshot))
    con.close()


def test_snapshot_path_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MOS_SERVING", raising=False)
    monkeypatch.delenv("MOS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert queries.snapshot_path() == (tmp_path / "data" / "serving" / "snapshot.duckdb").resolve()
    monkeypatch.setenv("MOS_HOME", str(tmp_path / "home"))
    assert queries.snapshot_path() == tmp_path / "home" / "serving" / "snapshot.duckdb"
    monkeypatch.setenv("MOS_SERVING", str(tmp_path / "x.duckdb"))
    assert queries.snapshot_path() == tmp_path / "x.duckdb"


def test_status_names_missing_tables_and_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_snapshot(tmp_path / "s.duckdb", skip=("decisions",))
    con = duckdb.connect(str(path))
    con.execute("alter table channel_daily drop column platform_roas")
    con.close()
    monkeypatch.setenv("MOS_SERVING", str(path))

    status = queries.snapshot_status()

    assert not status.ok
    assert status.missing_tables == ("decisions",)
    assert status.missing_columns == {"channel_daily": ("platform_roas",)}
    with pytest.raises(queries.SnapshotIncomplete):
        queries.decisions("northwind")


def test_missing_file_raises_a_snapshot_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOS_SERVING", str(tmp_path / "absent.duckdb"))
    assert queries.snapshot_status().exists is False
    with pytest.raises(queries.SnapshotMissing):
        queries.tenants()
    assert not (tmp_path / "absent.duckdb").exists()  # reading never creates the file


def test_atomic_replace_is_seen_at_once(snapshot: Path) -> None:
    assert queries.snapshot_info().at[0, "run_id"] == "run-20261101"
    fresh = write_snapshot(snapshot.parent / "next.duckdb")
    con = duckdb.connect(str(fresh))
    con.execute("update snapshot_info set run_id = 'run-next'")
    con.close()
    os.replace(fresh, snapshot)
    assert queries.snapshot_info().at[0, "run_id"] == "run-next"


def test_kpis_match_the_fixture(snapshot: Path) -> None:
    cd = build_tables()["channel_daily"]
    cd = cd[cd.tenant_id == "northwind"]
    cur = cd[(cd.date >= START) & (cd.date <= END)]
    prev_start, prev_end = queries.previous_period(START, END)
    assert (prev_start, prev_end) == (date(2026, 9, 6), date(2026, 10, 3))
    prev = cd[(cd.date >= prev_start) & (cd.date <= prev_end)]
    paid = cur[cur.channel != "email"]

    k = queries.kpis("northwind", START, END).set_index("metric")

    assert k.at["spend", "value"] == pytest.approx(cur.spend.sum())
    assert k.at["revenue", "value"] == pytest.approx(cur.attributed_revenue.sum())
    assert k.at["conversions", "value"] == pytest.approx(cur.attributed_conversions.sum())
    assert k.at["roas", "value"] == pytest.approx(paid.attributed_revenue.sum() / cur.spend.sum())
    assert k.at["cpa", "value"] == pytest.approx(cur.spend.sum() / paid.attributed_conversions.sum())
    assert k.at["spend", "previous"] == pytest.approx(prev.spend.sum())
    assert k.at["spend", "delta_pct"] == pytest.approx(cur.spend.sum() / prev.spend.sum() - 1)
    assert k.at["cpa", "good"] == "lower"


def test_channel_summary_sets_warehouse_and_platform_roas_side_by_side(snapshot: Path) -> None:
    s = queries.channel_summary("northwind", START, END).set_index("channel")
    assert list(s.index) == ["meta", "google_ads", "email"]  # by spend
    assert s.at["meta", "overclaim"] == pytest.approx(1.55, rel=1e-3)
    assert s.at["meta", "roas"] == pytest.approx(s.at["meta", "attributed_revenue"] / s.at["meta", "spend"])
    assert pd.isna(s.at["email", "roas"]) and pd.isna(s.at["email", "cpa"])  # no spend, no ratio


def test_decisions_filter_and_order(snapshot: Path) -> None:
    all_ = queries.decisions("northwind")
    assert len(all_) == 5 and all_["created_at"].is_monotonic_decreasing
    proposed = queries.decisions("northwind", status="proposed", limit=2)
    assert list(proposed["status"]) == ["proposed", "proposed"]
    with pytest.raises(ValueError):
        queries.decisions("northwind", status="nonsense")


def test_forecast_and_backtest(snapshot: Path) -> None:
    fc = queries.forecast("northwind")
    assert set(fc["metric"]) == {"spend", "conversions", "revenue"}
    assert (fc["yhat_lower"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_upper"]).all()
    assert fc.groupby(["channel", "metric"]).size().eq(28).all()
    assert len(queries.forecast_backtest("northwind")) == 8


def test_forecast_actuals_continue_the_forecast(snapshot: Path) -> None:
    daily = queries.channel_daily("northwind", date(2026, 9, 2), END)
    meta = daily[daily.channel == "meta"].tail(30)
    actual = queries.forecast_actuals("northwind", "meta", "revenue", END, days=30)
    assert actual["actual"].tolist() == pytest.approx(meta["attributed_revenue"].tolist())
    assert actual["date"].max() == pd.Timestamp(END)
    with pytest.raises(ValueError):
        queries.forecast_actuals("northwind", "meta", "spend; drop table tenants", END)


def test_weekly_rollup_recomputes_roas_from_sums(snapshot: Path) -> None:
    daily = queries.channel_daily("northwind", START, END)
    weekly = charts.rollup(daily, "week", end=END)
    assert weekly["period"].max() == pd.Timestamp(END) - pd.Timedelta(days=6)  # the latest week is whole
    assert weekly["spend"].sum() == pytest.approx(daily["spend"].sum())
    meta = weekly[weekly.channel == "meta"]
    assert meta["roas"].tolist() == pytest.approx((meta["attributed_revenue"] / meta["spend"]).tolist())
    assert weekly[weekly.channel == "email"]["roas"].isna().all()

    full, left_out = charts.complete_periods(weekly, "week")
    assert (full["days"] == 7).all() and left_out == 0 and full["period"].nunique() == 4

    longer = charts.rollup(queries.channel_daily("northwind", date(2026, 10, 1), END), "week", end=END)
    full, left_out = charts.complete_periods(longer, "week")
    assert left_out == 3 and full["period"].min() == pd.Timestamp(START)


def test_money_formats_in_the_tenant_currency() -> None:
    assert charts.money(12345.6, "USD") == "$12,346"
    assert charts.money(1_234_567, "EUR", compact=True) == "€1.2M"
    assert charts.money(-50, "SEK") == "-50 SEK"
    assert charts.money(None, "USD") == "–"
    assert charts.ratio(3.456) == "3.46×"
