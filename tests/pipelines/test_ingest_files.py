"""File-drop ingest through Dagster on the tiny world: idempotent drop-day slices, the erasure step,
no raw email anywhere, and an unreadable drop isolated (the other drops still load)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from tests.support.pipeline_runs import fresh_home, tiny_settings

pytestmark = pytest.mark.xdist_group("ingest")

WINDOW = (date(2026, 10, 4), date(2026, 10, 31))  # four Saturday drops
KEYS = [
    ["raw", "hubspot_contacts"],
    ["raw", "hubspot_deals"],
    ["raw", "touchpoints"],
    ["raw", "offline_conversions"],
    ["raw", "erasure_requests"],
    ["raw", "imported_ad_reports"],
]
FILE_TABLES = ("offline_conversions", "erasure_requests", "imported_ad_reports")


def _run(settings, start: date = WINDOW[0], end: date = WINDOW[1]) -> dg.ExecuteInProcessResult:
    from pipelines.definitions import build_definitions

    defs = build_definitions(settings)
    job = defs.get_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey(k) for k in KEYS],
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
        raise_on_error=False,
    )
    failures = [
        e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ]
    assert result.success, "\n".join(failures)
    return result


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for name in [
            *(f"raw.{t}" for t in (*FILE_TABLES, "hubspot_contacts", "touchpoints")),
            "ops.quarantine",
        ]:
            frame = con.sql(f"select * exclude (_loaded_at, _run_id) from {name}").pl()
            out[name] = frame.sort(frame.columns, nulls_last=True)
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, tiny_world_root):
    settings = tiny_settings(fresh_home(tmp_path_factory.mktemp("files"), tiny_world_root))
    _run(settings)
    return settings, _tables(settings.warehouse)


def test_drops_load_and_a_second_run_changes_nothing(loaded) -> None:
    settings, first = loaded
    for table in FILE_TABLES:
        assert first[f"raw.{table}"].height > 0, table
    drops = set(first["raw.offline_conversions"]["_partition"])
    assert drops == {"2026-10-10", "2026-10-17", "2026-10-24", "2026-10-31"}
    assert set(first["raw.imported_ad_reports"]["_source"]) >= {
        "inbox/ad_reports/bellavista/linkedin_campaign_manager_2026-10-31.csv"
    }
    _run(settings)
    again = _tables(settings.warehouse)
    for name, frame in first.items():
        assert frame.equals(again[name]), name


def test_no_raw_email_is_stored(loaded) -> None:
    _, tables = loaded
    for name in ("raw.offline_conversions", "raw.erasure_requests", "ops.quarantine"):
        text = tables[name].write_csv()
        assert "@example.com" not in text.lower(), name


def test_erased_people_are_gone_everywhere_in_raw(loaded) -> None:
    from connectors.sandbox.files import crm_extra_tables
    from connectors.sandbox.world import World, world_dir

    settings, tables = loaded
    world = World.load(world_dir(settings.sandbox_dir, "tiny", 7))
    requests = tables["raw.erasure_requests"]
    erased = crm_extra_tables(world)["erasure_requests"].join(
        requests.select("tenant_id", "request_id"), on=["tenant_id", "request_id"]
    )
    assert erased.height == requests.height > 0
    people = erased.join(world.contacts, on=["tenant_id", "contact_id"])
    contacts = tables["raw.hubspot_contacts"]
    assert contacts.filter(pl.col("id").is_in(people["contact_id"].to_list())).height == 0
    assert contacts.height == world.contacts.height - people.height  # nobody else went
    touchpoints = tables["raw.touchpoints"]
    assert touchpoints.filter(pl.col("anonymous_id").is_in(people["anonymous_id"].to_list())).height == 0
    offline = tables["raw.offline_conversions"]
    assert offline.filter(pl.col("contact_id").is_in(people["contact_id"].to_list())).height == 0
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        names = con.execute(
            "select count(*) from raw.hubspot_deals where contact_id in (select unnest(?::varchar[]))"
            " and dealname is not null",
            [people["contact_id"].to_list()],
        ).fetchone()[0]
    assert names == 0


def test_an_unreadable_drop_is_reported_and_the_others_load(tmp_path, tiny_world_root) -> None:
    settings = tiny_settings(fresh_home(tmp_path, tiny_world_root))
    folder = settings.inbox / "offline_conversions" / "bellavista"
    folder.mkdir(parents=True)
    truncated = folder / "2026-10-24.late.parquet"
    truncated.write_bytes(b"PAR1\x00\x01broken")
    result = _run(settings)
    checks = {
        (tuple(e.asset_key.path), e.check_name): e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == "offline_conversions"
    }
    readable = checks[(("raw", "offline_conversions"), "files_readable")]
    assert not readable.passed
    assert readable.metadata["errors"].value.startswith(f"{truncated}: unreadable Parquet file (")
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        drops = dict(
            con.execute(
                "select _partition, count(*) from raw.offline_conversions where tenant_id = 'bellavista' group by 1"
            ).fetchall()
        )
    assert set(drops) == {"2026-10-10", "2026-10-17", "2026-10-24", "2026-10-31"}
