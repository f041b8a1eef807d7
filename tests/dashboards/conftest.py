from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboards.snapshot_fixture import write_snapshot

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


@pytest.fixture
def snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A realistic serving snapshot in tmp, with MOS_SERVING pointing at it."""
    path = write_snapshot(tmp_path / "serving" / "snapshot.duckdb")
    monkeypatch.setenv("MOS_SERVING", str(path))
    return path
