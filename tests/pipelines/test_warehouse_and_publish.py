"""Slice replacement is atomic; a failed publish leaves the previous snapshot in place."""

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import warehouse as wh
from pipelines.publish import publish_snapshot


def _fx(rows: list[tuple[str, str, float]], partition: str) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows, schema={"date": pl.Utf8, "currency": pl.Utf8, "rate_to_usd": pl.Float64}, orient="row"
    ).with_columns(pl.col("date").str.to_date())
    return wh.with_load_meta(
        frame, wh.LoadMeta("r1", "fx", datetime(2026, 1, 1)), partition=partition, source_ref="test"
    )


def test_replace_slices_replaces_only_its_slice_and_rolls_back(tmp_path: Path) -> None:
    with wh.connect(tmp_path / "w.duckdb") as con:
        meta = wh.LoadMeta("r1", "touchpoints", datetime(2026, 1, 1))

        def touch(tenant: str, event: str, day: str) -> pl.DataFrame:
            frame = pl.DataFrame(
                {
                    "tenant_id": [tenant],
                    "event_id": [event],
                    "anonymous_id": ["a"],
                    "event_ts": [datetime.fromisoformat(f"{day}T12:00:00")],
                    "event_type": ["session"],
                    "utm_source": [None],
                    "utm_medium": [None],
                    "utm_campaign": [None],
                    "landing_page": ["/"],
                },
                schema_overrides={"utm_source": pl.Utf8, "utm_medium": pl.Utf8, "utm_campaign": pl.Utf8},
            )
            return wh.with_load_meta(frame, meta, partition=day, source_ref="t")

        wh.replace_slices(
            con,
            "touchpoints",
            pl.concat([touch("a", "1", "2026-01-01"), touch("a", "2", "2026-01-02")]),
            tenant_id="a",
            partitions=["2026-01-01", "2026-01-02"],
            source="touchpoints",
        )
        wh.replace_slices(
            con,
            "touchpoints",
            touch("b", "3", "2026-01-01"),
            tenant_id="b",
            partitions=["2026-01-01"],
            source="touchpoints",
        )
        # Re-load tenant a, day 1 with a restated row: day 2 and tenant b are untouched.
        wh.replace_slices(
            con,
            "touchpoints",
            touch("a", "9", "2026-01-01"),
            tenant_id="a",
            partitions=["2026-01-01"],
            source="touchpoints",
        )
        assert con.execute("select tenant_id, event_id from raw.touchpoints order by 1, 2").fetchall() == [
            ("a", "2"),
            ("a", "9"),
            ("b", "3"),
        ]
        # A failing insert (a column of the wrong type) rolls the delete back too.
        bad = touch("a", "x", "2026-01-02").with_columns(pl.lit("not a time").alias("event_ts"))
        with pytest.raises(duckdb.Error):
            wh.replace_slices(
                con, "touchpoints", bad, tenant_id="a", partitions=["2026-01-02"], source="touchpoints"
            )
        assert con.execute("select count(*) from raw.touchpoints where tenant_id = 'a'").fetchone()[0] == 2


def test_failed_publish_keeps_the_previous_snapshot(tmp_path: Path) -> None:
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "serving" / "snap.duckdb"
    snapshot.parent.mkdir()
    duckdb.connect(str(snapshot)).execute("create table marker as select 42 as answer").close()
    with wh.connect(warehouse) as con:  # the marts do not exist yet
        con.execute("create schema if not exists marts")
    with pytest.raises(RuntimeError, match=r"marts\.dim_tenants does not exist"):
        publish_snapshot(warehouse, snapshot, run_id="r")
    assert duckdb.connect(str(snapshot), read_only=True).execute("select answer from marker").fetchone() == (
        42,
    )
    assert not list(snapshot.parent.glob(".*tmp")), "a half-written snapshot was left behind"


def test_replace_by_keys_replaces_only_the_series_it_is_given() -> None:
    con = duckdb.connect()
    con.execute("create schema ml")
    assert not wh.table_exists(con, "ml.backtest")
    first = pl.DataFrame(
        {"tenant": ["a", "a", "b"], "metric": ["x", "x", "x"], "fold": [1, 2, 1], "mase": [0.5, 0.6, 0.7]}
    )
    assert wh.replace_by_keys(con, "ml.backtest", first, ["tenant", "metric"]) == 3  # created
    assert wh.table_exists(con, "ml.backtest")
    again = pl.DataFrame({"tenant": ["a"], "metric": ["x"], "fold": [1], "mase": [0.9]})
    assert wh.replace_by_keys(con, "ml.backtest", again, ["tenant", "metric"]) == 1
    rows = con.sql("select tenant, fold, mase from ml.backtest order by tenant, fold").fetchall()
    assert rows == [("a", 1, 0.9), ("b", 1, 0.7)]  # series a replaced whole, series b untouched
    assert wh.replace_by_keys(con, "ml.backtest", again.clear(), ["tenant", "metric"]) == 0
    assert con.sql("select count(*) from ml.backtest").fetchall() == [(2,)]
    with pytest.raises(ValueError, match=r"schema\.table"):
        wh.table_exists(con, "backtest")


def test_a_warehouse_from_before_the_spend_scales_gets_them_on_connect(tmp_path: Path) -> None:
    # raw.lift_tests gained treatment/control_spend_scale: a warehouse created before keeps its rows
    # (NULL in the new columns, which staging reads as a holdout's 1.0 / 0.0) and can load new ones.
    path = tmp_path / "old.duckdb"
    with wh.connect(path) as con:
        con.execute("alter table raw.lift_tests drop column treatment_spend_scale")
        con.execute("alter table raw.lift_tests drop column control_spend_scale")
        con.execute(
            "insert into raw.lift_tests (tenant_id, test_id, channel, kpi, start_date, end_date, incremental,"
            " standard_error) values ('t', 'LT-1', 'meta', 'revenue', '2025-01-01', '2025-01-14', 10, 1)"
        )
    with wh.connect(path) as con:
        columns = [r[0] for r in con.execute("describe raw.lift_tests").fetchall()]
        rows = con.execute(
            "select test_id, treatment_spend_scale, control_spend_scale from raw.lift_tests"
        ).fetchall()
    assert {"treatment_spend_scale", "control_spend_scale"} <= set(columns)
    assert rows == [("LT-1", None, None)]


def test_an_optional_table_is_published_once_the_warehouse_has_it(tmp_path: Path, monkeypatch) -> None:
    # ml.mmm_calibration comes from the weekly MMM refit: a daily publish on a warehouse whose MMM
    # predates it skips it (the dashboards say it is not published yet) instead of failing.
    from pipelines import publish

    queries = {
        "mmm_fit": "select * from ml.mmm_fit",
        "mmm_calibration": "select * from ml.mmm_calibration",
    }
    monkeypatch.setattr(publish, "SNAPSHOT_QUERIES", queries)
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "snap.duckdb"
    with wh.connect(warehouse) as con:
        con.execute("create schema if not exists ml")
        con.execute("create table ml.mmm_fit as select 'a' as tenant_id, 0.9 as r2")
    assert publish_snapshot(warehouse, snapshot, run_id="r1") == {"mmm_fit": 1}

    with wh.connect(warehouse) as con:
        con.execute(
            "create table ml.mmm_calibration as select 'a' as tenant_id, 1.5 as z union all select 'a', -0.5"
        )
    assert publish_snapshot(warehouse, snapshot, run_id="r2") == {"mmm_fit": 1, "mmm_calibration": 2}
    # A required table stays required.
    with wh.connect(warehouse) as con:
        con.execute("drop table ml.mmm_fit")
    with pytest.raises(RuntimeError, match=r"ml\.mmm_fit does not exist"):
        publish_snapshot(warehouse, snapshot, run_id="r3")
