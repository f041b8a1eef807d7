"""Shared sandbox-world fixtures: the tiny world is generated once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.sandbox.generator import ensure_world, generate_world
from connectors.sandbox.world import World


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: demo-size sandbox generation (a few seconds)")


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return generate_world("tiny", 7)


@pytest.fixture(scope="session")
def tiny_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny world. Read-only: tests that write (SandboxState) copy it first."""
    return ensure_world("tiny", 7, tmp_path_factory.mktemp("sandbox"))


@pytest.fixture
def state_dir(tiny_world_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the saved tiny world, for tests that mutate state."""
    target = tmp_path / tiny_world_dir.name
    shutil.copytree(tiny_world_dir, target)
    return target
