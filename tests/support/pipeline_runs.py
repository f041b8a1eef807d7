"""Pipeline-run helpers: one tiny world, and one end-to-end run per test session (per xdist worker)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.settings import Settings


@dataclass
class PipelineRun:
    settings: Settings
    result: object
    world_dir: Path


def tiny_settings(home: Path, **overrides: str) -> Settings:
    env = {"MOS_HOME": str(home), "MOS_PRESET": "tiny", "MOS_SEED": "7", "MOS_MODE": "sandbox"}
    env.update(overrides)
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def tiny_world_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny world generated once and copied into each test home (generation is not under test here)."""
    from connectors.sandbox.generator import ensure_world

    root = tmp_path_factory.mktemp("worlds")
    ensure_world("tiny", 7, root)
    return root


def fresh_home(tmp_path: Path, tiny_world_root: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(tiny_world_root, home / "sandbox")
    return home


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_world_root: Path) -> Iterator[PipelineRun]:
    from connectors.sandbox.world import WorldMeta, world_dir
    from pipelines.demo import materialize_range

    home = fresh_home(tmp_path_factory.mktemp("e2e"), tiny_world_root)
    settings = tiny_settings(home)
    wdir = world_dir(settings.sandbox_dir, "tiny", 7)
    meta = WorldMeta.from_json((wdir / "meta.json").read_text())
    result = materialize_range(settings, meta.start_date, meta.end_date)
    yield PipelineRun(settings=settings, result=result, world_dir=wdir)
