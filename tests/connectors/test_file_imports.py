"""File importers (connectors/imports): locale-aware parsing, email hashing, and the bad-file suite.

Each bad-file case asserts the exact rows loaded and the exact message (file, line/field, reason),
and that the good rows and the other files still load.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from connectors.imports import (
    MappingError,
    import_ad_report_files,
    import_erasure_request_files,
    import_offline_conversion_file,
    import_offline_conversion_files,
    load_mapping,
    load_mappings,
)
from connectors.imports.core import hash_emails

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = load_mappings(REPO / "config" / "imports")
HEADER = "order_id,contact_id,email,conversion_ts,value,currency,location\n"
ROW1 = "1001,111,Ann@Example.com,2026-10-20T10:00:00Z,12.50,USD,store\n"
ROW2 = "1002,222, bob@example.com ,2026-10-21T11:30:00Z,7.00,USD,phone\n"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def orders(result) -> list[str]:
    return sorted(result.rows["order_id"].to_list())


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    return write(tmp_path, "2026-10-24.csv", HEADER + ROW1 + ROW2)


# ---- the good path ---------------------------------------------------------------------------------


def test_offline_conversions_are_typed_and_emails_hashed_never_kept(good_file: Path) -> None:
    result = import_offline_conversion_file(good_file, tenant_id="northwind")
    assert result.messages() == []
    rows = result.rows.sort("order_id")
    assert rows.columns == [
        "tenant_id",
        "order_id",
        "email_sha256",
        "contact_id",
        "conversion_ts",
        "value",
        "currency",
        "location",
    ]
    assert rows["email_sha256"].to_list() == [sha("ann@example.com"), sha("bob@example.com")]
    assert rows["value"].to_list() == [Decimal("12.50"), Decimal("7.00")]
    assert rows["conversion_ts"].to_list() == [datetime(2026, 10, 20, 10), datetime(2026, 10, 21, 11, 30)]
    assert "@" not in str(result.frame.to_dicts())


def test_parquet_drop_with_native_types(tmp_path: Path) -> None:
    path = tmp_path / "2026-10-24.parquet"
    pl.DataFrame(
        {
            "order_id": ["1", "2"],
            "contact_id": ["11", None],
            "email": ["X@Y.org", None],
            "conversion_ts": [datetime(2026, 10, 20, 12), datetime(2026, 10, 21, 9)],
            "value": [Decimal("3.10"), Decimal("4.00")],
            "currency": ["EUR", "EUR"],
            "location": ["store", "store"],
        }
    ).with_columns(pl.col("conversion_ts").dt.replace_time_zone("Europe/Berlin")).write_parquet(path)
    result = import_offline_conversion_file(path, tenant_id="bellavista")
    assert result.messages() == []
    assert result.rows["email_sha256"].to_list() == [sha("x@y.org"), None]
    # 12:00 in Berlin (summer time) is 10:00 UTC
    assert result.rows["conversion_ts"].to_list()[0] == datetime(2026, 10, 20, 10)


def test_german_linkedin_export_through_its_mapping(tmp_path: Path) -> None:
    text = (
        "Leistungsbericht\nBerichtsbeginn: x\nBerichtsende: y\nErstellt am: z\nKonto: K\n"
        "Startdatum;Konto-ID;Kampagnengruppen-ID;Kampagnengruppenname;Kampagnen-ID;Kampagnenname;"
        "Creative-ID;Währung;Ausgegebener Gesamtbetrag;Impressionen;Klicks;Conversions;"
        "Gesamtwert der Conversions\n"
        "25.10.2026;5001;601;Gruppe;701;Kampagne;801;EUR;1.234,56;12.345;67;2,50;1.000,00\n"
    )
    path = write(
        tmp_path / "bellavista", "linkedin_campaign_manager_2026-10-31.csv", b"\xef\xbb\xbf" + text.encode()
    )
    result = import_ad_report_files([path], MAPPINGS, tenant_id="bellavista")
    assert result.messages() == []
    row = result.rows.to_dicts()[0]
    assert row["date"] == date(2026, 10, 25)
    assert (row["spend"], row["impressions"], row["clicks"]) == (Decimal("1234.56"), 12345, 67)
    assert (row["conversions"], row["conversion_value"]) == (2.5, Decimal("1000.00"))
    assert (row["platform"], row["mapping"], row["campaign_id"], row["ad_id"]) == (
        "linkedin",
        "linkedin_campaign_manager_de",
        "601",
        "801",
    )


def test_sandbox_drops_round_trip_to_the_world(tmp_path: Path) -> None:
    from connectors.sandbox.files import crm_extra_tables, export_ad_reports, export_offline_conversions
    from connectors.sandbox.generator import generate_world

    world = generate_world("tiny", 7)
    start, end = date(2026, 9, 6), date(2026, 10, 31)  # a Sunday .. a Saturday: whole weeks
    export_ad_reports(world, tmp_path, start, end)
    export_offline_conversions(world, tmp_path, start, end)
    for tenant in ("bellavista", "northwind"):
        reports = import_ad_report_files(
            sorted((tmp_path / "ad_reports" / tenant).iterdir()), MAPPINGS, tenant_id=tenant
        )
        assert reports.messages() == []
        truth = world.delivery.filter(
            (pl.col("tenant_id") == tenant)
            & (pl.col("platform") == "meta")
            & pl.col("date").is_between(start, end)
        )
        assert reports.rows.height == truth.height
        assert reports.rows["spend"].sum() == Decimal(int(truth["spend_micros"].sum()) // 10_000) / 100
        assert reports.rows["impressions"].sum() == truth["impressions"].sum()
        offline = import_offline_conversion_files(
            sorted((tmp_path / "offline_conversions" / tenant).iterdir()), tenant_id=tenant
        )
        assert offline.messages() == []
        table = crm_extra_tables(world)["offline_conversions"].filter(pl.col("tenant_id") == tenant)
        expected = table.filter(pl.col("order_id").is_in(offline.rows["order_id"].to_list())).sort("order_id")
        got = offline.rows.sort("order_id")
        assert got.height == expected.height > 0
        assert got["email_sha256"].to_list() == hash_emails(expected["email"]).to_list()
        assert [float(v) for v in got["value"]] == expected["value"].to_list()


# ---- the bad-file suite ----------------------------------------------------------------------------


def test_bad_encoding_quarantines_the_line_and_loads_the_rest(tmp_path: Path, good_file: Path) -> None:
    bad = write(
        tmp_path,
        "2026-10-31.csv",
        (HEADER + ROW1).encode() + b"1003,333,z\xe4hler@example.com,2026-10-16T10:00:00Z,1.00,USD,store\n",
    )
    result = import_offline_conversion_files([bad, good_file], tenant_id="northwind")
    assert orders(result) == ["1001", "1001", "1002"]
    assert result.messages() == [
        f"{bad}:3: email_sha256: not valid utf-8 (byte 0xe4 at column 11) [field=email_sha256]"
    ]
    assert "@" not in result.quarantine["record"][0]


def test_missing_required_column_rejects_the_file_only(tmp_path: Path, good_file: Path) -> None:
    bad = write(
        tmp_path, "2026-10-17.csv", "order_id,email,conversion_ts,currency\n1003,a@b.c,2026-10-16,USD\n"
    )
    result = import_offline_conversion_files([bad, good_file], tenant_id="northwind")
    assert orders(result) == ["1001", "1002"]
    assert result.files == {str(good_file): 2}
    assert result.messages() == [
        f"{bad}: missing required column(s) 'value' (found: 'order_id', 'email', 'conversion_ts', 'currency')"
        " [field=value]"
    ]


def test_extra_column_is_ignored_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "2026-10-24.csv", HEADER.rstrip("\n") + ",till\n" + ROW1.rstrip("\n") + ",7\n")
    result = import_offline_conversion_files([path], tenant_id="northwind")
    assert orders(result) == ["1001"]
    assert result.messages() == []
    assert result.warnings == [f"{path}: ignored unknown column(s) 'till'"]


def test_wrong_type_rejects_the_row_with_field_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "2026-10-24.csv", HEADER + ROW1 + "1002,222,b@x.org,2026-10-21T11:30:00Z,seven,USD,phone\n"
    )
    result = import_offline_conversion_files([path], tenant_id="northwind")
    assert orders(result) == ["1001"]
    assert result.messages() == [
        f"{path}:3: value: not an amount with at most 2 decimals (decimal '.') [field=value]"
    ]


def test_negative_spend_is_quarantined_by_the_contract(tmp_path: Path) -> None:
    text = (
        "x\nx\nx\nx\nx\n"
        "Start Date,Account ID,Campaign Group ID,Campaign Group Name,Campaign ID,Campaign Name,Creative ID,"
        "Currency,Total Spent,Impressions,Clicks,Conversions,Total Conversion Value\n"
        '10/20/2026,5,6,G,7,C,8,USD,"1,000.00",100,1,0,0\n'
        "10/21/2026,5,6,G,7,C,8,USD,-3.00,100,1,0,0\n"
    )
    path = write(tmp_path / "northwind", "linkedin_campaign_manager_2026-10-24.csv", text)
    result = import_ad_report_files([path], MAPPINGS, tenant_id="northwind")
    assert result.rows["date"].to_list() == [date(2026, 10, 20)]
    assert result.rows["spend"].to_list() == [Decimal("1000.00")]
    assert result.messages() == [f"{path}:8: spend: must be >= 0 [field=spend]"]


def test_a_date_after_the_drop_day_is_quarantined(tmp_path: Path) -> None:
    future = "1003,333,c@x.org,2026-10-30T10:00:00Z,5.00,USD,store\n"
    path = write(tmp_path, "2026-10-24.csv", HEADER + ROW1 + future)
    result = import_offline_conversion_files([path], tenant_id="northwind")
    assert orders(result) == ["1001"]
    assert result.messages() == [
        f"{path}:3: conversion_ts: must not be after as_of 2026-10-25 23:59:59.999999 [field=conversion_ts]"
    ]


def test_duplicate_keys_keep_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, "2026-10-24.csv", HEADER + ROW1 + ROW2 + ROW1.replace("12.50", "99.00"))
    result = import_offline_conversion_files([path], tenant_id="northwind")
    assert orders(result) == ["1001", "1002"]
    assert result.rows.filter(pl.col("order_id") == "1001")["value"].to_list() == [Decimal("12.50")]
    assert result.messages() == [
        f"{path}:4: duplicate key (tenant_id, order_id): kept the first occurrence [field=tenant_id, order_id]"
    ]


def test_empty_file_is_reported_and_others_load(tmp_path: Path, good_file: Path) -> None:
    empty = write(tmp_path, "2026-10-17.csv", "")
    result = import_offline_conversion_files([empty, good_file], tenant_id="northwind")
    assert orders(result) == ["1001", "1002"]
    assert result.messages() == [f"{empty}: empty file (0 bytes)"]


def test_truncated_parquet_is_reported_and_others_load(tmp_path: Path, good_file: Path) -> None:
    whole = tmp_path / "whole.parquet"
    pl.read_csv(good_file, infer_schema=False).write_parquet(whole)
    truncated = write(tmp_path, "2026-10-17.parquet", whole.read_bytes()[:-40])
    result = import_offline_conversion_files([truncated, good_file], tenant_id="northwind")
    assert orders(result) == ["1001", "1002"]
    [message] = result.messages()
    assert message.startswith(f"{truncated}: unreadable Parquet file (")


def test_erasure_request_naming_nobody_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "2026-10-24.csv",
        "request_id,contact_id,email,requested_at\nR1,,A@B.org,2026-10-20T10:00:00Z\nR2,,,2026-10-20T11:00:00Z\n",
    )
    result = import_erasure_request_files([path], tenant_id="northwind")
    assert result.rows["request_id"].to_list() == ["R1"]
    assert result.rows["email_sha256"].to_list() == [sha("a@b.org")]
    assert result.messages() == [
        f"{path}:3: email, contact_id: a request must name a contact id or an email [field=email, contact_id]"
    ]


def test_a_bad_mapping_names_file_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "broken.yml",
        "name: x\nfile_pattern: '*.csv'\ncolumns:\n  date: D\n  spend: S\n  costs: C\nconstants:\n  platform: y\n",
    )
    with pytest.raises(MappingError, match=r"broken.yml: columns: unknown raw column\(s\) \['costs'\]"):
        load_mapping(path)
