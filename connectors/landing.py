"""Landing zone: every API page and imported file is kept, as received, before anything parses it.

Layout (deterministic, so a re-run overwrites instead of piling up)::

    <root>/<source>/<tenant_id>/<partition>/<seq:05d>.json.gz      the response body, gzip
    <root>/<source>/<tenant_id>/<partition>/<seq:05d>.meta.json     request meta (secrets redacted)
    <root>/<source>/<tenant_id>/files/<sha256>.<ext>                an imported file, content-addressed
    <root>/<source>/<tenant_id>/files/<sha256>.<ext>.meta.json      original name, size, hash

Writes are atomic (temporary file in the same directory, then `os.replace`), so a reader never sees half
a page. Gzip is written with mtime=0 at a fixed level (1, the fastest: landed pages are written once and
rarely read): the same body gives the same bytes.

Durability: by default a write is atomic but not forced to disk (`os.replace` of a complete temporary
file, no fsync). A crashed process never leaves a partial file; a power loss or OS crash may leave a
recent file missing or empty, which a re-run repairs (the layout is deterministic and `save_file`
re-copies a landed file whose size is wrong). `LandingZone(root, durable=True)` also fsyncs every file
before its rename, for a landing zone that must survive a power loss on its own; that costs one disk
flush per file (about 1 ms each here, far more on network disks).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from isal import igzip

from connectors.redact import Redactor

_COMPONENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")
PAGE_SUFFIX = ".json.gz"
META_SUFFIX = ".meta.json"
#: gzip level of landed pages (ISA-L's igzip, levels 0-3: a plain gzip member any gzip reader opens).
#: Level 1 compresses a JSON page ~4x faster than zlib's level 1 and a little smaller; the same bytes
#: for the same body on every run (mtime=0).
GZIP_LEVEL = 1


def _component(value: object, what: str) -> str:
    text = str(value)
    if not _COMPONENT_RE.match(text) or ".." in text:
        raise ValueError(f"invalid landing path component for {what}: {text!r}")
    return text


_TMP_NAMES = itertools.count()


def _open_temporary(folder: Path, name: str) -> tuple[int, str]:
    """Create a new temporary file beside `folder/name` (O_EXCL; named by pid and a counter, unlike
    `tempfile.mkstemp`'s random names: one open call, no name generator); return (fd, path)."""
    while True:
        tmp = f"{folder}{os.sep}.{name}.{os.getpid()}-{next(_TMP_NAMES)}.tmp"
        try:
            return os.open(tmp, _TMP_FLAGS, 0o600), tmp
        except FileExistsError:  # left by a crashed process with the same pid: take the next name
            continue


_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _atomic_write(path: Path, data: bytes, *, durable: bool = True, made: set[Path] | None = None) -> None:
    """Write `data` to a temporary file beside `path`, then rename it into place (fsync first when
    `durable`). `made`: folders already created by this writer (their mkdir is skipped; a folder removed
    since is made again)."""
    folder = path.parent
    if made is None or folder not in made:
        folder.mkdir(parents=True, exist_ok=True)
        if made is not None:
            made.add(folder)
    try:
        fd, tmp = _open_temporary(folder, path.name)
    except FileNotFoundError:  # the folder went away since we made it
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = _open_temporary(folder, path.name)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_SIDECAR_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_MAX_DEPTH = 64


def sidecar_json(sidecar: Mapping[str, Any]) -> bytes:
    """`json.dumps(sidecar, indent=2, sort_keys=True, default=str).encode()`, written by orjson (one C
    call instead of the stdlib's pure-Python indenting encoder) when every value is one both write
    byte for byte alike: dicts with printable-ASCII string keys, lists, tuples, printable-ASCII strings,
    64-bit ints, bools and None. Anything else (floats, non-ASCII or control characters, other types)
    goes through the stdlib."""
    if type(sidecar) is dict and _writes_alike(sidecar, 0):
        return orjson.dumps(sidecar, option=_SIDECAR_OPTIONS)
    return json.dumps(sidecar, indent=2, sort_keys=True, default=str).encode()


def _writes_alike(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str:
        return value.isascii() and value.isprintable()
    if kind is int:
        return -(1 << 63) <= value < (1 << 64)
    if value is None or kind is bool:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        return all(
            type(k) is str and k.isascii() and k.isprintable() and _writes_alike(v, depth + 1)
            for k, v in value.items()
        )
    if kind is list or kind is tuple:
        return all(_writes_alike(v, depth + 1) for v in value)
    return False


class LandingZone:
    """Keeps raw pages and files. `secrets` are scrubbed from every sidecar it writes.

    `durable=True` fsyncs each file before its atomic rename (see the module doc); the default writes
    atomically without forcing the data to disk, which is what a re-runnable pipeline needs.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        secrets: Iterable[str | None] = (),
        durable: bool = False,
    ) -> None:
        self.root = Path(root)
        self.redactor = Redactor(secrets)
        self.durable = durable
        self._made: set[Path] = set()  # partition folders this zone has created (one mkdir each)
        self._folders: dict[tuple[str, str, str], Path] = {}

    def __repr__(self) -> str:
        durable = ", durable=True" if self.durable else ""
        return f"LandingZone({str(self.root)!r}{durable})"

    # -- pages -----------------------------------------------------------------------------------------
    def partition_dir(self, source: str, tenant_id: str, partition: str) -> Path:
        key = (str(source), str(tenant_id), str(partition))
        folder = self._folders.get(key)
        if folder is None:  # validated and built once per partition (a read lands hundreds of pages)
            folder = (
                self.root
                / _component(source, "source")
                / _component(tenant_id, "tenant_id")
                / _component(partition, "partition")
            )
            if len(self._folders) >= 1024:
                self._folders.clear()
            self._folders[key] = folder
        return folder

    def page_path(self, source: str, tenant_id: str, partition: str, seq: int | str) -> Path:
        name = f"{seq:05d}" if isinstance(seq, int) else _component(seq, "seq")
        return self.partition_dir(source, tenant_id, partition) / f"{name}{PAGE_SUFFIX}"

    def save_page(
        self,
        source: str,
        tenant_id: str,
        partition: str,
        seq: int | str,
        body: bytes,
        meta: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write one response body (gzip) plus a redacted sidecar of request meta; return the body path."""
        path = self.page_path(source, tenant_id, partition, seq)
        _atomic_write(
            path,
            igzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0),
            durable=self.durable,
            made=self._made,
        )
        sidecar = {
            "source": source,
            "tenant_id": tenant_id,
            "partition": partition,
            "seq": seq,
            "bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "saved_at": datetime.now(UTC).isoformat(),
            **self.redactor.mapping(dict(meta or {})),
        }
        _atomic_write(
            path.with_name(path.name[: -len(PAGE_SUFFIX)] + META_SUFFIX),
            sidecar_json(sidecar),
            durable=self.durable,
            made=self._made,
        )
        return path

    def finish_partition(self, source: str, tenant_id: str, partition: str, n_pages: int) -> list[Path]:
        """After a complete fetch of `n_pages` pages (seq 0..n-1), remove pages a longer earlier run left
        behind. Returns the removed paths."""
        folder = self.partition_dir(source, tenant_id, partition)
        removed: list[Path] = []
        if not folder.is_dir():
            return removed
        for path in folder.iterdir():
            stem = path.name.split(".", 1)[0]
            if stem.isdigit() and int(stem) >= n_pages:
                path.unlink(missing_ok=True)
                removed.append(path)
        return sorted(removed)

    def iter_pages(self, source: str, tenant_id: str, partition: str) -> Iterator[tuple[Path, bytes]]:
        """Replay a landed partition in seq order: (path, body bytes)."""
        folder = self.partition_dir(source, tenant_id, partition)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob(f"*{PAGE_SUFFIX}")):
            yield path, read_page(path)

    # -- files -----------------------------------------------------------------------------------------
    def save_file(self, source: str, tenant_id: str, src_path: str | os.PathLike[str]) -> Path:
        """Copy an imported file into the landing zone under its content hash (same content, same path)."""
        src = Path(src_path)
        digest = hashlib.sha256()
        size = 0
        with src.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        ext = "".join(src.suffixes[-2:]) if src.name.endswith(".gz") else src.suffix
        ext = ext if re.fullmatch(r"[A-Za-z0-9.]*", ext) else ""
        folder = self.root / _component(source, "source") / _component(tenant_id, "tenant_id") / "files"
        dest = folder / f"{digest.hexdigest()}{ext}"
        folder.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.stat().st_size != size:
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                if self.durable:
                    _fsync_path(tmp)
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        sidecar = {
            "source": source,
            "tenant_id": tenant_id,
            "original_name": src.name,
            "original_path": self.redactor.text(str(src)),
            "bytes": size,
            "sha256": digest.hexdigest(),
            "saved_at": datetime.now(UTC).isoformat(),
        }
        _atomic_write(
            dest.with_name(dest.name + META_SUFFIX),
            json.dumps(sidecar, indent=2, sort_keys=True).encode(),
            durable=self.durable,
        )
        return dest


def _fsync_path(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_page(path: str | os.PathLike[str]) -> bytes:
    """The original response body of a landed page."""
    return igzip.decompress(Path(path).read_bytes())


def read_meta(page_path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(page_path)
    return json.loads(path.with_name(path.name[: -len(PAGE_SUFFIX)] + META_SUFFIX).read_text())
