"""dbt inside Dagster: the project, a translator that keys models by schema, and manifest preparation.

dbt is parsed once per change of the project: `prepare_manifest()` fingerprints the project's files
and runs `dbt parse` only when they changed, so the demo and `dagster dev` load a ready manifest.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject
from packaging import version

from pipelines.settings import DBT_PROJECT_DIR, Settings

TARGET_DIR = DBT_PROJECT_DIR / "target"
FINGERPRINT_FILE = TARGET_DIR / ".mos_fingerprint"
_PROJECT_GLOBS = (
    "dbt_project.yml",
    "profiles.yml",
    "models/**/*",
    "macros/**/*",
    "seeds/**/*",
    "tests/**/*",
    "snapshots/**/*",
    "analyses/**/*",
)


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR, *, warehouse: str = "") -> str:
    """Hash of the project's files and of the warehouse path the profile renders.

    dbt's partial parsing is invalidated when the rendered profile changes, so a manifest parsed for
    another warehouse would make every `dbt build` parse the project again from scratch.
    """
    digest = hashlib.sha256(warehouse.encode())
    files = sorted({p for g in _PROJECT_GLOBS for p in project_dir.glob(g) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(project_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare_manifest(settings: Settings | None = None, *, force: bool = False) -> Path:
    """Run `dbt parse` if the manifest is missing or older than the project; return its path.

    Several processes (test workers, `dagster dev` beside a demo) may ask at once: a file lock makes
    one of them parse while the others wait and then find the manifest fresh.
    """
    TARGET_DIR.mkdir(parents=True, exist_ok=True)
    with (TARGET_DIR / ".mos_parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _prepare_manifest_locked(settings, force=force)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _prepare_manifest_locked(settings: Settings | None, *, force: bool) -> Path:
    manifest = TARGET_DIR / "manifest.json"
    env = (settings or Settings.from_env()).as_env()
    fingerprint = project_fingerprint(warehouse=env["MOS_WAREHOUSE"])
    fresh = (
        manifest.exists()
        and FINGERPRINT_FILE.exists()
        and FINGERPRINT_FILE.read_text().strip() == fingerprint
    )
    if fresh and not force:
        return manifest
    from dbt.cli.main import dbtRunner  # imported lazily: costs a second

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = dbtRunner().invoke(
            [
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(TARGET_DIR),
            ]
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception}")
    FINGERPRINT_FILE.write_text(fingerprint + "\n")
    return manifest


class MarketingDbtTranslator(DagsterDbtTranslator):
    """Sources are the `raw.*` ingest assets; models are keyed `[schema, name]` like the warehouse."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props.get("schema")
        return dg.AssetKey([schema or "dbt", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "warehouse"

    # The daily job leaves out the views that its models read (pipelines/definitions.py,
    # daily_selection): a model would then have no edge to the ingest assets it reads through them,
    # and Dagster could run dbt before the day's ingest. So every model also depends on the sources
    # its views read (the edges `raw` -> `stg_*` -> model stay as well).

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not unique_id.startswith(("model.", "snapshot.")):
            return spec
        have = {dep.asset_key for dep in spec.deps}
        extra = [key for key in self._sources_through_definitions(manifest, unique_id) if key not in have]
        return spec.replace_attributes(deps=[*spec.deps, *extra]) if extra else spec

    def _sources_through_definitions(self, manifest: Mapping[str, Any], unique_id: str) -> list[dg.AssetKey]:
        """Keys of the dbt sources that `unique_id` reads through views and seeds, sorted."""
        found: set[dg.AssetKey] = set()
        stack = list(manifest["parent_map"].get(unique_id, []))
        seen: set[str] = set()
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                found.add(self.get_asset_key(manifest["sources"][parent]))
            elif manifest["nodes"].get(parent, {}).get("config", {}).get("materialized") == "view":
                stack.extend(manifest["parent_map"].get(parent, []))
        return sorted(found, key=lambda key: key.to_user_string())


TRANSLATOR = MarketingDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=TARGET_DIR)


LOCAL_DBT = Path(sys.executable).parent / "dbt"  # the dbt of this interpreter's environment


class MarketingDbtCliResource(DbtCliResource):
    """dagster-dbt's `DbtCliResource` without two costs it pays on every run before dbt starts.

    - The dbt version: dagster-dbt runs `dbt --version` in a subprocess once per resource, i.e. once
      per Dagster run (a full dbt import, every adapter plugin, and a request to PyPI for the latest
      version): ~3 s of CPU in each daily run. For the dbt next to this interpreter (the one the
      project runs) the installed dbt-core package's version is the same answer, read from metadata.
    - A dbt adapter in the Dagster process: dagster-dbt loads the profile, project and dbt's macros
      (~2 s of CPU) to hand `fetch_row_counts()` / `fetch_column_metadata()` a read-only connection.
      The dbt asset uses neither (and with DuckDB those would have to wait for dbt's write lock), so
      no adapter is made; the invocation treats a missing adapter as "no metadata to fetch".
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == LOCAL_DBT:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version  # another dbt (e.g. Fusion): ask it

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None


def definition_relations(manifest_path: Path) -> dict[dg.AssetKey, tuple[str, str]]:
    """(schema, name) of every view and seed by asset key: what a run that leaves them out (the daily
    run: the backfill and `rebuild_warehouse` build them) needs in the warehouse already."""
    manifest = json.loads(Path(manifest_path).read_text())
    relations = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "seed" or (
            node["resource_type"] == "model" and node.get("config", {}).get("materialized") == "view"
        ):
            relations[TRANSLATOR.get_asset_key(node)] = (node["schema"], node.get("alias") or node["name"])
    return relations


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
TIME_ZONE_MARGIN_DAYS = 1  # a day's file or report may hold rows of the UTC day before or after it


WINDOW_ENV = ("MOS_DBT_WINDOW_START", "MOS_DBT_WINDOW_END")  # read by macros/run_window.sql


def dbt_build_args(
    tags: Mapping[str, str], *, first_day: date, lookback_days: int
) -> tuple[list[str], dict[str, str]]:
    """The `dbt build` arguments for a run with these tags (the daily run's window, or a full refresh).

    A run over partitions [start, end] that starts after the first partition is a daily (or partial)
    run: its ingest steps reloaded at most [min(start, end - lookback + 1), end] (each source widens
    to its own look-back when the run reaches the newest day), so incremental models delete and
    insert that window, one day wider on each side for time zones, and skips dbt's unit tests. A run
    from the first partition (the backfill, a full refresh) or without partitions rebuilds every
    model (`--full-refresh`). Returns (arguments, environment): the window travels as the env vars
    `WINDOW_ENV` (see macros/run_window.sql), not as `--vars`, because changed vars make dbt re-parse
    the whole project on every daily run (~4 s of a ~12 s daily build on the demo).
    """
    start_text = tags.get(RANGE_START_TAG) or tags.get(PARTITION_TAG)
    end_text = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    full_refresh = (["build", "--full-refresh"], dict.fromkeys(WINDOW_ENV, ""))
    if not start_text or not end_text:
        return full_refresh
    try:
        start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
    except ValueError as exc:
        raise ValueError(
            f"dbt window: run tags {RANGE_START_TAG}={start_text!r}, {RANGE_END_TAG}={end_text!r} "
            f"are not ISO dates"
        ) from exc
    if end < start:
        raise ValueError(f"dbt window: partition range ends ({end}) before it starts ({start})")
    if start <= first_day:
        return full_refresh
    margin = timedelta(days=TIME_ZONE_MARGIN_DAYS)
    window_start = min(start, end - timedelta(days=max(lookback_days, 1) - 1)) - margin
    window_end = end + margin
    window = dict(zip(WINDOW_ENV, (window_start.isoformat(), window_end.isoformat()), strict=True))
    # Unit tests check model logic against fixed rows: the backfill and CI run them, a daily run
    # (same logic, new data) runs the data tests only.
    return ["build", "--exclude-resource-type", "unit_test"], window
