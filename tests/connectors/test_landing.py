"""Landing zone and redaction."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.landing import LandingZone, read_meta, read_page
from connectors.redact import Redactor, redact


def test_save_page_layout_gzip_and_sidecar(tmp_path):
    zone = LandingZone(tmp_path, secrets=["s3cr3t-token"])
    body = b'{"data": [1]}'
    meta = {
        "method": "GET",
        "url": "https://graph.facebook.com/v21.0/act_1/insights?access_token=s3cr3t-token&after=x",
        "status": 200,
        "request_id": "abc",
        "headers": {"Authorization": "Bearer s3cr3t-token"},
    }
    path = zone.save_page("meta_ads_insights", "northwind", "2026-01-01", 0, body, meta)
    assert path == tmp_path / "meta_ads_insights/northwind/2026-01-01/00000.json.gz"
    assert gzip.decompress(path.read_bytes()) == body
    assert read_page(path) == body
    sidecar = read_meta(path)
    assert sidecar["status"] == 200 and sidecar["request_id"] == "abc" and sidecar["method"] == "GET"
    assert "access_token=***" in sidecar["url"]
    assert sidecar["headers"]["Authorization"] == "***"
    assert b"s3cr3t-token" not in path.with_name("00000.meta.json").read_bytes()
    assert not list(path.parent.glob("*.tmp"))


def test_save_page_is_deterministic_and_overwrites(tmp_path):
    zone = LandingZone(tmp_path)
    p1 = zone.save_page("s", "t", "p", 3, b"one", {})
    first = p1.read_bytes()
    p2 = zone.save_page("s", "t", "p", 3, b"one", {})
    assert p1 == p2 and p2.read_bytes() == first  # byte-identical (gzip mtime=0)
    zone.save_page("s", "t", "p", 3, b"two", {})
    assert read_page(p1) == b"two"
    assert len(list(p1.parent.glob("*.json.gz"))) == 1


def test_finish_partition_removes_stale_pages(tmp_path):
    zone = LandingZone(tmp_path)
    for seq in range(4):
        zone.save_page("s", "t", "p", seq, b"x", {})
    removed = zone.finish_partition("s", "t", "p", 2)
    assert [p.name for p in removed] == [
        "00002.json.gz",
        "00002.meta.json",
        "00003.json.gz",
        "00003.meta.json",
    ]
    assert [p.name for p, _ in zone.iter_pages("s", "t", "p")] == ["00000.json.gz", "00001.json.gz"]


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "a b"])
def test_path_components_validated(tmp_path, bad):
    with pytest.raises(ValueError):
        LandingZone(tmp_path).save_page("s", bad, "p", 0, b"", {})


def test_save_file_content_addressed(tmp_path):
    src = tmp_path / "export.parquet"
    src.write_bytes(b"PAR1 data PAR1")
    zone = LandingZone(tmp_path / "landing")
    dest = zone.save_file("touchpoints", "northwind", src)
    assert dest.suffix == ".parquet"
    assert dest.read_bytes() == src.read_bytes()
    assert dest == zone.save_file("touchpoints", "northwind", src)
    meta = json.loads(dest.with_name(dest.name + ".meta.json").read_text())
    assert meta["original_name"] == "export.parquet"
    assert len(dest.stem) == 64


def test_redactor():
    r = Redactor(["abcd1234secret"])
    text = (
        "token abcd1234secret in url https://x/y?access_token=zzz&b=1 and Authorization: Bearer qwerty12345"
    )
    out = r.text(text)
    assert "abcd1234secret" not in out and "zzz" not in out and "qwerty12345" not in out
    assert "b=1" in out
    assert r.url("https://h/p?developer_token=d&a=1") == "https://h/p?developer_token=***&a=1"
    assert r.headers({"developer-token": "d", "Accept": "json"}) == {
        "developer-token": "***",
        "Accept": "json",
    }
    assert redact("nothing to hide", ["xy"]) == "nothing to hide"  # too-short secrets are ignored
    assert "idempotency_key=k1" in r.text("idempotency_key=k1")


@pytest.mark.parametrize("durable", [False, True])
def test_durable_flag_fsyncs_only_when_asked(tmp_path, monkeypatch, durable):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    zone = LandingZone(tmp_path / "landing", durable=durable)
    page = zone.save_page("s", "t", "p", 0, b'{"a": 1}', {"status": 200})
    src = tmp_path / "drop.ndjson"
    src.write_bytes(b'{"a":1}\n')
    copy = zone.save_file("touchpoints", "t", src)
    assert read_page(page) == b'{"a": 1}' and copy.read_bytes() == src.read_bytes()
    assert len(synced) == (4 if durable else 0)  # page + sidecar, file copy + sidecar
    assert not list(page.parent.glob("*.tmp")) and not list(copy.parent.glob("*.tmp"))
    assert zone.durable is durable and ("durable=True" in repr(zone)) is durable


def test_pages_are_the_same_bytes_durable_or_not(tmp_path):
    body = json.dumps({"data": [{"i": i, "v": "x" * (i % 7)} for i in range(500)]}).encode()
    fast = LandingZone(tmp_path / "a").save_page("s", "t", "p", 0, body, {})
    slow = LandingZone(tmp_path / "b", durable=True).save_page("s", "t", "p", 0, body, {})
    assert fast.read_bytes() == slow.read_bytes()  # gzip level and mtime fixed: deterministic
    assert gzip.decompress(fast.read_bytes()) == body


def test_save_file_recopies_a_landed_file_of_the_wrong_size(tmp_path):
    src = tmp_path / "export.parquet"
    src.write_bytes(b"PAR1 data PAR1")
    zone = LandingZone(tmp_path / "landing")
    dest = zone.save_file("touchpoints", "northwind", src)
    dest.write_bytes(b"")  # e.g. left empty by a power loss before the data reached the disk
    assert zone.save_file("touchpoints", "northwind", src) == dest
    assert dest.read_bytes() == src.read_bytes()


def test_save_page_after_its_folder_was_removed(tmp_path):
    """The zone remembers the folders it made; a folder deleted since is made again, the page lands."""
    import shutil

    from connectors.landing import LandingZone, read_page

    zone = LandingZone(tmp_path / "landing")
    zone.save_page("meta_ads_insights", "acme", "2026-01-01", 0, b'{"data": []}')
    shutil.rmtree(tmp_path / "landing")
    path = zone.save_page("meta_ads_insights", "acme", "2026-01-01", 1, b'{"data": [1]}')
    assert read_page(path) == b'{"data": [1]}'
    assert path.with_name("00001.meta.json").exists()


# ---- sidecar JSON: orjson's output where it equals the stdlib's, byte for byte ----------------------
_ASCII_TEXT = st.text(alphabet='abcXYZ09_-:/?=&"\\ \t\n\x7f\x00\x1f', max_size=8)
_ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**64 - 1, 2**64, -(2**63), -(2**63) - 1])
    | st.floats(allow_nan=True, allow_infinity=True)
)


def _json_values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | _NUMBERS | text,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(text, inner, max_size=3)
        ),
        max_leaves=8,
    )


@pytest.mark.parametrize(
    "value", ["\x7f", "a\x00b", "\u00e9", float("nan"), 1e-07, 1e16, 2**64, -(2**63) - 1, (1, [2]), {"k": {}}]
)
def test_sidecar_json_equals_the_stdlib_dump_on_awkward_values(value):
    from connectors.landing import sidecar_json

    sidecar = {"source": "x", "value": value}
    assert sidecar_json(sidecar) == json.dumps(sidecar, indent=2, sort_keys=True, default=str).encode()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_ASCII_TEXT, _json_values(_ASCII_TEXT), max_size=4))
def test_sidecar_json_equals_the_stdlib_dump_on_ascii(sidecar):
    from connectors.landing import sidecar_json

    assert sidecar_json(sidecar) == json.dumps(sidecar, indent=2, sort_keys=True, default=str).encode()


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_ANY_TEXT, _json_values(_ANY_TEXT), max_size=4))
def test_sidecar_json_equals_the_stdlib_dump_on_any_text(sidecar):
    from connectors.landing import sidecar_json

    assert sidecar_json(sidecar) == json.dumps(sidecar, indent=2, sort_keys=True, default=str).encode()


def test_sidecar_json_of_a_page_sidecar_takes_the_fast_path_and_equals_the_stdlib(tmp_path):
    from connectors import landing

    zone = landing.LandingZone(tmp_path, secrets=["tok-123456"])
    meta = {
        "platform": "hubspot",
        "method": "GET",
        "url": "https://h/p?a=1&access_token=tok-123456",
        "status": 200,
        "request_id": None,
        "attempts": 1,
        "params": {"after": "12", "ids": [1, 2]},
    }
    path = zone.save_page("hubspot", "t1", "contacts", 3, b'{"results": []}', meta)
    written = path.with_name("00003" + landing.META_SUFFIX).read_bytes()
    sidecar = json.loads(written)
    assert landing._writes_alike(sidecar, 0)
    assert written == json.dumps(sidecar, indent=2, sort_keys=True, default=str).encode()
    assert b"tok-123456" not in written and sidecar["url"] == "https://h/p?a=1&access_token=***"
    assert (
        landing.sidecar_json({"when": datetime(2026, 1, 2, tzinfo=UTC)})
        == b'{\n  "when": "2026-01-02 00:00:00+00:00"\n}'
    )
