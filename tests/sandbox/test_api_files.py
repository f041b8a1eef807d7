"""Touchpoint file drops (per tenant-local day, Parquet or NDJSON) and the FX CSV."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from connectors.sandbox.files import (
    TOUCHPOINT_COLUMNS,
    export_fx_rates,
    export_touchpoint_range,
    export_touchpoints,
)
from tests.sandbox.api_fixtures import DAYS, FixtureState


def _local_day(ts: datetime, zone: str) -> date:
    return ts.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date()


def test_parquet_drop_holds_the_local_day_and_is_reproducible(tmp_path):
    state = FixtureState()
    day = DAYS[3]
    path = export_touchpoints(state, "northwind", day, tmp_path)
    assert path == tmp_path / "touchpoints" / "northwind" / f"{day.isoformat()}.parquet"
    frame = pl.read_parquet(path)
    assert tuple(frame.columns) == TOUCHPOINT_COLUMNS
    world = state.world.touchpoints.filter(pl.col("tenant_id") == "northwind").to_dicts()
    expected = {r["event_id"] for r in world if _local_day(r["event_ts"], "America/New_York") == day}
    assert set(frame["event_id"]) == expected and expected
    # local midnight in New York is 05:00 UTC: an event at 03:00 UTC belongs to the previous day
    assert all(_local_day(ts, "America/New_York") == day for ts in frame["event_ts"])
    first = path.read_bytes()
    export_touchpoints(state.world, "northwind", day, tmp_path)
    assert path.read_bytes() == first
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary files left


def test_ndjson_drop_for_bellavista(tmp_path):
    state = FixtureState()
    day = DAYS[4]  # a day with events lacking UTM parameters
    path = export_touchpoints(state, "bellavista", day, tmp_path)
    assert path.suffix == ".ndjson"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows and all(list(r) == list(TOUCHPOINT_COLUMNS) for r in rows)
    for row in rows:
        moment = datetime.fromisoformat(row["event_ts"].replace("Z", "+00:00"))
        assert row["event_ts"].endswith("Z") and moment.astimezone(ZoneInfo("Europe/Berlin")).date() == day
    assert [r["event_ts"] for r in rows] == sorted(r["event_ts"] for r in rows)
    nulls = {r["event_id"] for r in rows if r["utm_source"] is None}
    world = state.world.touchpoints.filter(pl.col("event_id").is_in([r["event_id"] for r in rows]))
    assert nulls == set(world.filter(pl.col("utm_source").is_null())["event_id"]) and nulls  # JSON null
    parquet = export_touchpoints(state, "bellavista", day, tmp_path, fmt="parquet")
    assert set(pl.read_parquet(parquet)["event_id"]) == {r["event_id"] for r in rows}


def test_range_export_covers_every_day_exactly_once(tmp_path):
    state = FixtureState()
    paths = export_touchpoint_range(state, tmp_path, DAYS[0], DAYS[-1])
    assert len(paths) == 2 * len(DAYS)
    nw = pl.concat([pl.read_parquet(p) for p in paths if "northwind" in p.parts])
    world = state.world.touchpoints.filter(pl.col("tenant_id") == "northwind").to_dicts()
    in_range = {
        r["event_id"] for r in world if DAYS[0] <= _local_day(r["event_ts"], "America/New_York") <= DAYS[-1]
    }
    assert nw["event_id"].n_unique() == nw.height and set(nw["event_id"]) == in_range
    single = export_touchpoints(state, "northwind", DAYS[4], tmp_path / "again")
    assert single.read_bytes() == (tmp_path / "touchpoints" / "northwind" / f"{DAYS[4]}.parquet").read_bytes()


def test_empty_day_and_bad_input(tmp_path):
    state = FixtureState()
    empty = export_touchpoints(state, "northwind", date(2030, 1, 1), tmp_path)
    assert pl.read_parquet(empty).height == 0 and tuple(pl.read_parquet(empty).columns) == TOUCHPOINT_COLUMNS
    with pytest.raises(ValueError, match="unknown tenant"):
        export_touchpoints(state, "acme", DAYS[0], tmp_path)
    with pytest.raises(ValueError, match="format"):
        export_touchpoints(state, "northwind", DAYS[0], tmp_path, fmt="csv")


def test_fx_rates_csv(tmp_path):
    state = FixtureState()
    path = export_fx_rates(state, tmp_path / "fx" / "fx_rates.csv")
    frame = pl.read_csv(path, try_parse_dates=True)
    assert (
        frame.columns == ["date", "currency", "rate_to_usd"] and frame.height == state.world.fx_rates.height
    )
    assert frame.filter(pl.col("currency") == "USD")["rate_to_usd"].to_list() == [1.0] * len(DAYS)
    first = path.read_bytes()
    export_fx_rates(state.world, path)
    assert path.read_bytes() == first
