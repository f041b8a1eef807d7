"""Fixtures shared across test packages (one tiny world and one end-to-end run per session)."""

from tests.support.pipeline_runs import tiny_run, tiny_world_root  # noqa: F401  (pytest fixtures)
