"""Dry run off: decisions go through the connector, are applied once even when retried, and read back."""

import json
import shutil
from collections import Counter

import dagster as dg
import duckdb
import pytest

from tests.support.pipeline_runs import tiny_settings

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# Thresholds low enough that the tiny world yields decisions; the rule itself is tested in activations/.
EAGER = {"cpa_ratio_threshold": 1.01, "min_spend_multiple": 0.01, "alpha": 0.99, "max_pauses_per_run": 5}


def _run_activation(settings) -> dg.ExecuteInProcessResult:
    from pipelines.definitions import build_definitions

    job = build_definitions(settings).resolve_job_def("materialize_all")
    return job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey(["activation", "decisions"])],
        run_config={"ops": {"activation__decisions": {"config": EAGER}}},
        raise_on_error=True,
    )


def _status_writes(world_dir) -> Counter:
    log = world_dir / "state" / "mutations.jsonl"
    if not log.exists():
        return Counter()
    ops = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return Counter(op["entity_id"] for op in ops if op.get("op") == "set_status")


def test_live_push_is_applied_once_under_faults_and_read_back(tiny_run, tmp_path) -> None:
    from connectors.sandbox.state import SandboxState

    assert tiny_run.result.success
    home = tmp_path / "home"
    shutil.copytree(tiny_run.settings.home, home)
    settings = tiny_settings(home, MOS_DRY_RUN="0", MOS_FAULT_RATE="0.3", MOS_FAULT_TIMEOUT_MODE="after")
    world_dir = home / "sandbox" / tiny_run.world_dir.name

    _run_activation(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        applied = con.execute(
            "select entity_id, platform from activation.decisions where status = 'applied' and not dry_run"
        ).fetchall()
        failed = con.execute("select count(*) from activation.decisions where status = 'failed'").fetchone()[
            0
        ]
        attempts = con.execute("select count(*) from activation.audit_log").fetchone()[0]
    assert applied, "no decision was applied"
    assert failed == 0
    assert attempts >= len(applied)

    writes = _status_writes(world_dir)
    state = SandboxState(world_dir)
    for ad_id, platform in applied:
        assert writes[ad_id] == 1, f"ad {ad_id} was written {writes[ad_id]} times"
        assert state.find_entity(platform, ad_id)["status"] == "PAUSED"

    # Running the activation again (a retry of the whole step) writes nothing new.
    _run_activation(settings)
    assert _status_writes(world_dir) == writes
