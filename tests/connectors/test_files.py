"""Touchpoint file import: good files load, malformed ones give errors naming file, field and line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from connectors.contracts import RAW_COLUMNS
from connectors.files import FileImportError, import_touchpoint_file, import_touchpoint_files
from connectors.landing import LandingZone

SCHEMA = pl.Schema(RAW_COLUMNS["touchpoints"])


def event(i: int, **over) -> dict:
    rec = {
        "tenant_id": "northwind",
        "event_id": f"e{i}",
        "anonymous_id": f"a{i % 3}",
        "event_ts": f"2026-01-0{1 + i % 9}T10:00:00Z",
        "event_type": "session",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "brand",
        "landing_page": "/",
    }
    rec.update(over)
    return rec


def write_ndjson(path: Path, records: list, raw_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r) for r in records]
    for idx, text in (raw_lines or {}).items():
        lines.insert(idx, text)
    path.write_text("\n".join(lines) + "\n")
    return path


def frame_of(records: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(records).with_columns(
        pl.col("event_ts").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    )


def test_good_ndjson(tmp_path):
    path = write_ndjson(tmp_path / "a.ndjson", [event(i) for i in range(5)])
    result = import_touchpoint_file(path)
    assert result.ok, result.errors
    assert result.frame.schema == SCHEMA
    assert result.frame.height == 5
    assert result.frame["event_ts"][0] == datetime(2026, 1, 1, 10)
    assert result.files == {str(path): 5}


def test_good_parquet_with_aware_timestamps(tmp_path):
    path = tmp_path / "a.parquet"
    frame = frame_of([event(i) for i in range(4)]).with_columns(
        pl.col("event_ts").dt.convert_time_zone("Europe/Berlin")
    )
    frame.write_parquet(path)
    result = import_touchpoint_file(path)
    assert result.ok, result.errors
    assert result.frame.schema == SCHEMA
    assert result.frame["event_ts"][0] == datetime(2026, 1, 1, 10)  # converted back to naive UTC


def test_parquet_without_tenant_column_gets_tenant(tmp_path):
    path = tmp_path / "a.parquet"
    frame_of([event(1)]).drop("tenant_id", "landing_page").write_parquet(path)
    result = import_touchpoint_file(path, tenant_id="bellavista")
    assert result.ok
    assert result.frame["tenant_id"].to_list() == ["bellavista"]
    assert result.frame["landing_page"].to_list() == [None]  # optional column absent -> null


def test_bad_json_line_named_and_good_lines_kept(tmp_path):
    path = write_ndjson(
        tmp_path / "bad.ndjson", [event(i) for i in range(4)], raw_lines={2: '{"event_id": "x", '}
    )
    result = import_touchpoint_file(path)
    assert result.frame.height == 4
    assert len(result.errors) == 1
    err = result.errors[0]
    assert isinstance(err, FileImportError)
    assert err.line == 3
    assert str(path) in str(err) and ":3" in str(err)
    assert "invalid JSON" in str(err)


def test_missing_required_column_ndjson(tmp_path):
    records = [{k: v for k, v in event(i).items() if k != "event_ts"} for i in range(3)]
    path = write_ndjson(tmp_path / "nots.ndjson", records)
    result = import_touchpoint_file(path)
    assert result.frame.height == 0
    [err] = result.errors
    assert err.field == "event_ts"
    assert err.line == 1
    assert str(path) in str(err) and "event_ts" in str(err)


def test_missing_field_on_one_line(tmp_path):
    records = [event(0), {k: v for k, v in event(1).items() if k != "anonymous_id"}, event(2)]
    path = write_ndjson(tmp_path / "m.ndjson", records)
    result = import_touchpoint_file(path)
    assert result.frame["event_id"].to_list() == ["e0", "e2"]
    [err] = result.errors
    assert (err.field, err.line) == ("anonymous_id", 2)


def test_missing_required_column_parquet(tmp_path):
    path = tmp_path / "noid.parquet"
    frame_of([event(1)]).drop("event_id").write_parquet(path)
    result = import_touchpoint_file(path)
    assert result.frame.height == 0
    [err] = result.errors
    assert err.field == "event_id"
    assert str(path) in str(err)


def test_wrong_type_ndjson_names_field_and_line(tmp_path):
    records = [
        event(0),
        event(1, event_ts={"when": "yesterday"}),
        event(2, event_id=["a"]),
        event(3, event_ts="not a date"),
    ]
    path = write_ndjson(tmp_path / "types.ndjson", records)
    result = import_touchpoint_file(path)
    assert result.frame["event_id"].to_list() == ["e0"]
    got = {(e.field, e.line) for e in result.errors}
    assert got == {("event_ts", 2), ("event_id", 3), ("event_ts", 4)}
    for e in result.errors:
        assert str(path) in str(e) and f"[field={e.field}]" in str(e)


def test_integer_ids_are_cast_to_strings(tmp_path):
    path = write_ndjson(tmp_path / "ints.ndjson", [event(0, event_id=123, anonymous_id=456)])
    result = import_touchpoint_file(path)
    assert result.ok, result.errors
    assert result.frame.row(0, named=True)["event_id"] == "123"


def test_wrong_column_type_parquet_is_file_error(tmp_path):
    path = tmp_path / "t.parquet"
    frame_of([event(1)]).with_columns(pl.lit(1.5).alias("event_ts")).write_parquet(path)
    result = import_touchpoint_file(path)
    [err] = result.errors
    assert err.field == "event_ts"
    assert "wrong type" in str(err)


def test_unparseable_string_timestamp_parquet_row(tmp_path):
    path = tmp_path / "s.parquet"
    pl.DataFrame([event(0), event(1, event_ts="31/02/2026")]).write_parquet(path)
    result = import_touchpoint_file(path)
    assert result.frame["event_id"].to_list() == ["e0"]
    [err] = result.errors
    assert (err.field, err.row) == ("event_ts", 2)


def test_empty_parquet_file(tmp_path):
    path = tmp_path / "empty.parquet"
    path.write_bytes(b"")
    [err] = import_touchpoint_file(path).errors
    assert "empty" in str(err) and str(path) in str(err)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_ndjson_is_a_quiet_day_unless_refused(tmp_path, content):
    path = tmp_path / "empty.ndjson"
    path.write_bytes(content)
    ok = import_touchpoint_file(path)
    assert ok.errors == [] and ok.frame.height == 0 and ok.frame.schema == SCHEMA
    assert ok.warnings and "empty" in ok.warnings[0]
    [err] = import_touchpoint_file(path, empty_ok=False).errors
    assert "empty" in str(err) and str(path) in str(err)


def test_parquet_with_zero_rows_is_fine(tmp_path):
    path = tmp_path / "zero.parquet"
    frame_of([event(1)]).clear().write_parquet(path)
    result = import_touchpoint_file(path)
    assert result.ok and result.frame.height == 0


def test_truncated_parquet(tmp_path):
    good = tmp_path / "good.parquet"
    frame_of([event(i) for i in range(50)]).write_parquet(good)
    path = tmp_path / "trunc.parquet"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    result = import_touchpoint_file(path)
    assert result.frame.height == 0
    [err] = result.errors
    assert "unreadable Parquet" in str(err) and str(path) in str(err)


def test_unsupported_and_missing_files(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n")
    assert "unsupported" in str(import_touchpoint_file(csv).errors[0])
    assert "not found" in str(import_touchpoint_file(tmp_path / "nope.ndjson").errors[0])


def test_blank_lines_keep_line_numbers(tmp_path):
    path = tmp_path / "gaps.ndjson"
    path.write_text(json.dumps(event(0)) + "\n\n" + json.dumps(event(1, event_ts="nope")) + "\n")
    result = import_touchpoint_file(path)
    assert result.frame.height == 1
    assert result.errors[0].line == 3


def test_error_cap(tmp_path):
    path = write_ndjson(tmp_path / "many.ndjson", [event(i, event_ts="bad") for i in range(30)])
    result = import_touchpoint_file(path, max_errors=5)
    assert len(result.errors) == 6
    assert "25 more" in str(result.errors[-1])


def test_one_bad_file_never_stops_the_others(tmp_path):
    good1 = write_ndjson(tmp_path / "g1.ndjson", [event(i) for i in range(3)])
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    empty = tmp_path / "e.parquet"
    empty.write_bytes(b"")
    good2 = tmp_path / "g2.parquet"
    frame_of([event(i) for i in range(10, 12)]).write_parquet(good2)
    result = import_touchpoint_files([good1, bad, empty, good2])
    assert result.frame.height == 5
    assert result.frame.schema == SCHEMA
    assert {Path(e.path).name for e in result.errors} == {"bad.parquet", "e.parquet"}
    assert result.files == {str(good1): 3, str(good2): 2}


def test_files_are_landed_before_parsing(tmp_path):
    src = write_ndjson(tmp_path / "in.ndjson", [event(1)])
    landing = LandingZone(tmp_path / "landing")
    result = import_touchpoint_file(src, tenant_id="northwind", landing=landing)
    landed = result.landed[str(src)]
    assert landed.read_bytes() == src.read_bytes()
    assert landed.parent == tmp_path / "landing/touchpoints/northwind/files"
    again = import_touchpoint_file(src, tenant_id="northwind", landing=landing)
    assert again.landed[str(src)] == landed  # content-addressed: same file, same path
    assert len(list(landed.parent.glob("*.ndjson"))) == 1
    # a bad file is landed too (nothing is lost), even though it does not parse
    bad = tmp_path / "bad.ndjson"
    bad.write_text("{nope\n")
    out = import_touchpoint_file(bad, tenant_id="northwind", landing=landing)
    assert out.errors and out.landed[str(bad)].exists()


def test_timestamps_are_utc(tmp_path):
    path = write_ndjson(
        tmp_path / "tz.ndjson",
        [event(0, event_ts="2026-01-01T12:00:00+02:00"), event(1, event_ts="2026-01-01T12:00:00")],
    )
    result = import_touchpoint_file(path)
    assert result.frame["event_ts"].to_list() == [datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 12)]
    assert datetime(2026, 1, 1, 10, tzinfo=UTC).replace(tzinfo=None) == result.frame["event_ts"][0]


# ---- many files at once: the batch read gives what one file at a time gives --------------------------


def compact(records: list) -> str:
    return (
        "\n".join(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")) for r in records) + "\n"
    )


def drop_files(folder: Path) -> list[Path]:
    """Clean compact NDJSON and Parquet days (the batch paths) mixed with every kind of trouble."""
    folder.mkdir()
    files: dict[str, str | bytes | pl.DataFrame] = {
        "01.ndjson": compact([event(i) for i in range(5)]),
        "02.ndjson": compact([event(i, utm_source=None) for i in range(5, 8)]),
        "03.ndjson": compact([{k: v for k, v in event(9).items() if k != "tenant_id"}]),
        "04.ndjson": compact([event(10, anonymous_id=None), event(11)]),  # null required: one by one
        "05.ndjson": compact([event(12, event_ts="nope"), event(13)]),  # bad timestamp
        "06.ndjson": compact(
            [event(14, event_ts="2026-01-01 10:00:00"), event(15, event_ts="1767225600000")]
        ),
        "07.ndjson": compact([event(16, event_id=17)]),  # an int: schema inferred
        "08.ndjson": compact([event(18, utm_medium=1.5)]),  # a float: wrong type
        "09.ndjson": compact(['{"tenant_id": bad', event(19)]),
        "10.ndjson": compact([event(20)]).replace("\n", "\r\n"),
        "11.ndjson": compact([event(21, landing_page='/a":5\u00e9')]),
        "12.ndjson": compact([event(22)]) + "\n" + compact([event(23)]),  # a blank line
        "13.ndjson": "",
        "14.jsonl": compact([event(i) for i in range(24, 27)]),
        "15.ndjson": compact([event(27, tenant_id=None)]),
        "20.parquet": frame_of([event(i) for i in range(30, 33)]),
        "21.parquet": frame_of([event(i) for i in range(33, 35)]),
        "22.parquet": frame_of([event(35)]).head(0),
        "23.parquet": frame_of([event(36)]).with_columns(
            pl.col("event_ts").dt.convert_time_zone("Europe/Berlin")
        ),
        "24.parquet": pl.DataFrame([event(37, event_ts="bad"), event(38)]),  # string timestamps, one bad
        "25.parquet": frame_of([event(39)]).drop("tenant_id"),
        "26.parquet": frame_of([event(40)]).with_columns(pl.lit(None, dtype=pl.String).alias("event_type")),
        "27.parquet": b"PAR1 not really",
    }
    paths = []
    for name, content in files.items():
        path = folder / name
        if isinstance(content, pl.DataFrame):
            content.write_parquet(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        paths.append(path)
    return [*paths, folder / "missing.ndjson", paths[0]]


@pytest.mark.parametrize("tenant_id", [None, "bellavista"])
@pytest.mark.parametrize("empty_ok", [True, False])
def test_many_files_give_what_each_file_gives(tmp_path, tenant_id, empty_ok):
    paths = drop_files(tmp_path / "drops")
    together = import_touchpoint_files(paths, tenant_id=tenant_id, empty_ok=empty_ok, max_errors=3)
    alone = [import_touchpoint_file(p, tenant_id=tenant_id, empty_ok=empty_ok, max_errors=3) for p in paths]
    assert together.frame.equals(pl.concat([r.frame for r in alone]))
    assert [str(e) for e in together.errors] == [str(e) for r in alone for e in r.errors]
    assert together.files == {k: v for r in alone for k, v in r.files.items()}
    assert together.warnings == [w for r in alone for w in r.warnings]
    assert together.frame.height > 20 and together.errors


def test_many_files_landed_as_one_by_one(tmp_path):
    paths = drop_files(tmp_path / "drops")
    result = import_touchpoint_files(paths, tenant_id="northwind", landing=LandingZone(tmp_path / "a"))
    alone = [
        import_touchpoint_file(p, tenant_id="northwind", landing=LandingZone(tmp_path / "b")) for p in paths
    ]
    expected = {k: v for r in alone for k, v in r.landed.items()}
    assert list(result.landed) == list(expected)
    assert [p.relative_to(tmp_path / "a") for p in result.landed.values()] == [
        p.relative_to(tmp_path / "b") for p in expected.values()
    ]
    copies = sorted(p.name for p in (tmp_path / "a/touchpoints/northwind/files").iterdir())
    assert copies == sorted(p.name for p in (tmp_path / "b/touchpoints/northwind/files").iterdir())
