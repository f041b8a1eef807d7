"""The daily run (issue 3): incremental dbt models over the run's window give the warehouse a full
refresh gives, table by table; the window the dbt asset passes follows the run's partitions."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.dbt import TARGET_DIR, dbt_build_args
from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

FIRST = date(2026, 7, 4)  # the tiny world's first day (120 days to 2026-10-31)
TODAY = date(2026, 10, 31)
DBT_SCHEMAS = ("intermediate", "marts")


def _tags(start: date, end: date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }


def test_the_backfill_and_runs_without_partitions_rebuild_everything() -> None:
    no_window = {"MOS_DBT_WINDOW_START": "", "MOS_DBT_WINDOW_END": ""}
    assert dbt_build_args(_tags(FIRST, TODAY), first_day=FIRST, lookback_days=28) == (
        ["build", "--full-refresh"],
        no_window,
    )
    assert dbt_build_args({}, first_day=FIRST, lookback_days=28) == (["build", "--full-refresh"], no_window)


def test_a_daily_run_passes_its_look_back_window_with_a_day_of_margin() -> None:
    args, window = dbt_build_args(_tags(TODAY, TODAY), first_day=FIRST, lookback_days=28)
    # The window goes as env vars: a changed --vars would make dbt re-parse the project every day.
    assert args == ["build", "--exclude-resource-type", "unit_test"]
    # Meta re-pulls 28 days ending today; one day either side for rows of a neighbouring UTC day.
    assert window == {
        "MOS_DBT_WINDOW_START": (TODAY - timedelta(days=28)).isoformat(),
        "MOS_DBT_WINDOW_END": (TODAY + timedelta(days=1)).isoformat(),
    }
    # A range longer than the look-back keeps its own start.
    _, wide = dbt_build_args(_tags(date(2026, 9, 1), TODAY), first_day=FIRST, lookback_days=7)
    assert wide["MOS_DBT_WINDOW_START"] == "2026-08-31"


def test_bad_partition_tags_are_named() -> None:
    with pytest.raises(ValueError, match=r"asset_partition_range_start.*not ISO dates"):
        dbt_build_args(
            _tags(TODAY, TODAY) | {"dagster/asset_partition_range_start": "yesterday"},
            first_day=FIRST,
            lookback_days=7,
        )
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        dbt_build_args(_tags(TODAY, TODAY - timedelta(days=2)), first_day=FIRST, lookback_days=7)


def _run(settings, start: date, end: date, job: str = "materialize_all"):
    from pipelines.demo import materialize_range

    result = materialize_range(settings, start, end, selection=job)
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    assert result.success, "\n".join(failures)
    return result


def _dbt_args(result) -> dict:
    """What dbt was asked in this run (its run_results.json in the run's target folder)."""
    runs = sorted(TARGET_DIR.glob(f"dbt_models-{result.run_id[:7]}-*/run_results.json"))
    assert runs, f"no dbt run_results for run {result.run_id}"
    return json.loads(runs[-1].read_text())["args"]


def _dbt_results(result) -> dict[str, str]:
    """Each dbt node this run executed, by unique id, with its status."""
    runs = sorted(TARGET_DIR.glob(f"dbt_models-{result.run_id[:7]}-*/run_results.json"))
    assert runs, f"no dbt run_results for run {result.run_id}"
    return {r["unique_id"]: r["status"] for r in json.loads(runs[-1].read_text())["results"]}


def _staging_nodes() -> dict[str, set[str]]:
    """The daily run's views and seeds (the weekly refit has its own) and the generic data tests
    on them alone (the manifest's ids)."""
    nodes = json.loads((TARGET_DIR / "manifest.json").read_text())["nodes"]
    models = {
        uid
        for uid, node in nodes.items()
        if node["config"].get("materialized") in ("view", "seed") and "weekly" not in node["tags"]
    }
    tests = {
        uid
        for uid, node in nodes.items()
        if node["resource_type"] == "test"
        and node.get("attached_node") in models
        and set(node["depends_on"]["nodes"]) <= models
    }
    return {"models": models, "tests": tests}


def _compiled(result, model: str) -> str:
    """The SQL dbt compiled for an intermediate model in this run (the window reaches it via env vars)."""
    found = sorted(
        TARGET_DIR.glob(f"dbt_models-{result.run_id[:7]}-*/compiled/*/models/intermediate/{model}.sql")
    )
    assert found, f"no compiled {model} for run {result.run_id}"
    return found[-1].read_text()


def _warehouse(path: Path) -> dict[str, pl.DataFrame]:
    """Every dbt-built table (intermediate and marts), rows in a canonical order."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.sql(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_schema in {DBT_SCHEMAS} and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
        for (name,) in names:
            frame = con.sql(f"select * from {name}").pl()
            exact = [c for c, t in frame.schema.items() if not t.is_float()]
            out[name] = frame.sort(exact or frame.columns, nulls_last=True)
    return out


def _same(a: pl.DataFrame, b: pl.DataFrame, *, cent: bool = False) -> bool:
    """Equal rows; doubles to 1e-9 (a rebuild may sum fractional credits in another order). With
    `cent`, money to the cent: rule-based attribution rounds fractional credits per row, so two
    rebuilds of the same data can differ by 0.01 there."""
    if cent:
        money = [c for c, t in a.schema.items() if isinstance(t, pl.Decimal)]
        a, b = (f.with_columns(pl.col(money).cast(pl.Float64)) for f in (a, b))
    tolerance = 0.0100001 if cent else 1e-9
    try:
        assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=tolerance)
    except AssertionError:
        return False
    return True


def _weekly_tables() -> set[str]:
    """The dbt tables the daily job leaves to the weekly refit (tag `weekly` in the manifest)."""
    manifest = json.loads((TARGET_DIR / "manifest.json").read_text())
    return {
        f"{node['schema']}.{node['name']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "weekly" in node["tags"]
    }


def test_a_daily_run_gives_the_warehouse_of_a_full_refresh(tmp_path, tiny_world_root) -> None:
    from connectors.sandbox.state import SandboxState
    from connectors.sandbox.world import world_dir

    home = fresh_home(tmp_path / "daily", tiny_world_root)
    settings = tiny_settings(home)
    backfill = _run(settings, FIRST, TODAY)
    assert _dbt_args(backfill).get("full_refresh") is True
    before = _warehouse(settings.warehouse)
    weekly = _weekly_tables() & before.keys()  # (some are views)
    assert "marts.fct_attribution_rule_based" in weekly and "marts.fct_channel_daily" not in weekly

    # Two daily runs, each after one more simulated day (new rows, restated look-back days).
    for day in (TODAY + timedelta(days=1), TODAY + timedelta(days=2)):
        SandboxState(world_dir(settings.sandbox_dir, "tiny", 7)).advance(1)
        daily = _run(tiny_settings(home), day, day, job="daily")
        args = _dbt_args(daily)
        assert not args.get("full_refresh"), "the daily run rebuilt every model"
        window_end = (day + timedelta(days=1)).isoformat()
        assert f"and cast('{window_end}' as date)" in _compiled(daily, "int_touchpoints_channeled")
        # The staging views are the backfill's; their data tests still check the day's raw rows.
        ran = _dbt_results(daily)
        staging = _staging_nodes()
        assert "model.marketing_os.stg_meta_ads__ad_insights" not in ran, "the daily run recreated views"
        assert "seed.marketing_os.channel_mapping" not in ran, "the daily run reloaded seeds"
        assert staging["tests"] <= ran.keys(), "the daily run skipped data tests of views or seeds"
        assert {ran[test] for test in staging["tests"]} == {"pass"}
    incremental = _warehouse(settings.warehouse)
    touch = "intermediate.int_touchpoints_channeled"
    assert incremental[touch].height > before[touch].height  # the new days arrived
    for name in weekly:  # left to the weekly refit
        assert _same(incremental[name], before[name]), f"the daily job rebuilt {name}"

    # The same raw data rebuilt from scratch by dbt (--full-refresh, every model a new table).
    other = tmp_path / "full" / "home"
    shutil.copytree(home, other)
    rebuilt = tiny_settings(other)
    assert _dbt_args(_run(rebuilt, None, None, job="rebuild_warehouse")).get("full_refresh") is True
    full = _warehouse(rebuilt.warehouse)

    assert incremental.keys() == full.keys()
    for name in sorted(full.keys() - weekly):
        assert _same(incremental[name], full[name]), (
            f"{name}: the daily runs give {incremental[name].height} rows, a full refresh {full[name].height}"
        )
    # After the weekly refit every table is the full refresh's.
    weekly_run = _run(tiny_settings(home), None, None, job="weekly_refit")
    refit = _warehouse(settings.warehouse)
    # ...and tests the attribution marts it rebuilt, also against the daily marts and dimensions.
    evaluated = {(e.asset_key.path[-1], e.check_name) for e in weekly_run.get_asset_check_evaluations()}
    on_rule_based = {name for table, name in evaluated if table == "fct_attribution_rule_based"}
    assert "assert_last_touch_models_agree" in on_rule_based, sorted(on_rule_based)
    assert any(
        name.startswith("relationships_fct_attribution_rule_based_tenant_id") for name in on_rule_based
    )
    for name in sorted(weekly):
        assert _same(refit[name], full[name], cent=True), f"{name} differs after the weekly refit"

    # A duplicate key in raw (an old day no look-back re-pulls) fails the daily run at the staging
    # view's key test, and dbt builds nothing downstream of it.
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "insert into raw.meta_ads_insights select * from raw.meta_ads_insights "
            "where date_start = (select min(date_start) from raw.meta_ads_insights) limit 1"
        )
    from pipelines.demo import materialize_range

    day = TODAY + timedelta(days=3)
    SandboxState(world_dir(settings.sandbox_dir, "tiny", 7)).advance(1)
    broken = materialize_range(tiny_settings(home), day, day, selection="daily")
    assert not broken.success
    failed = {
        (e.asset_key.path[-1], e.check_name) for e in broken.get_asset_check_evaluations() if not e.passed
    }
    key_test = "primary_key_stg_meta_ads__ad_insights_tenant_id__ad_id__date"
    assert failed == {("stg_meta_ads__ad_insights", key_test)}
    ran = _dbt_results(broken)
    assert ran["model.marketing_os.fct_ad_performance_daily"] == "skipped"


def test_a_daily_run_on_a_warehouse_never_built_says_what_to_run_first(tmp_path, tiny_world_root) -> None:
    # The daily run reads the staging views and seeds as the backfill built them; on a new warehouse it
    # must say that, naming the missing relations, rather than let dbt stop at the first one.
    from pipelines.demo import materialize_range

    settings = tiny_settings(fresh_home(tmp_path, tiny_world_root))
    result = materialize_range(settings, TODAY, TODAY, selection="daily")

    assert not result.success
    failures = {
        e.step_key: e.event_specific_data.error.message
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    }
    assert list(failures) == ["dbt_models"], failures
    message = failures["dbt_models"]
    assert "does not build and the warehouse" in message and "rebuild_warehouse" in message
    assert re.search(r"reads \d+ dbt views/seeds", message) and "staging.stg_" in message
    # The day's ingest ran and stays loaded.
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.meta_ads_insights").fetchone()[0] > 0
