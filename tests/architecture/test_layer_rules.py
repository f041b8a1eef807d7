"""DESIGN.md §2 as a test: the dependency rules that keep every room small and testable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_CALLS = {"open", "connect", "read_parquet", "write_parquet", "read_csv", "write_csv", "urlopen"}
IO_MODULES = {"duckdb", "httpx", "requests", "urllib", "socket", "sqlite3", "boto3", "dagster"}


def _python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["connectors", "models_ml", "activations", "dashboards"])
def test_only_pipelines_import_dagster(package: str) -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _python_files(package)
        if {"dagster", "dagster_dbt"} & _imported_modules(p)
    ]
    assert offenders == [], f"only pipelines/ may import dagster: {offenders}"


def test_models_ml_does_no_io() -> None:
    offenders: list[str] = []
    for path in _python_files("models_ml"):
        bad_modules = IO_MODULES & _imported_modules(path)
        tree = ast.parse(path.read_text())
        bad_calls = {
            (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in IO_CALLS
        }
        if bad_modules or bad_calls:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad_modules | bad_calls)}")
    assert offenders == [], f"models_ml/ must stay pure: {offenders}"


def test_dashboards_read_only_the_snapshot() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _python_files("dashboards")
        if {"pipelines", "connectors", "activations"} & _imported_modules(p)
    ]
    assert offenders == [], f"dashboards/ must not import pipelines or connectors: {offenders}"


def test_activations_talk_to_platforms_only_through_connectors() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _python_files("activations")
        if {"httpx", "requests", "pipelines"} & _imported_modules(p)
    ]
    assert offenders == [], f"activations/ must use connectors/ clients, not HTTP directly: {offenders}"


def test_rules_see_real_files() -> None:
    # Guard against the rules passing vacuously because a package moved.
    for package in ("connectors", "models_ml", "activations", "dashboards", "pipelines"):
        assert _python_files(package), f"{package}/ has no Python files"


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import dagster\nfrom duckdb import connect\n")
    assert {"dagster", "duckdb"} <= _imported_modules(bad)
