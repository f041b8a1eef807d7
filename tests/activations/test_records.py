"""Frames for activation.* match the DDL, and the upsert/append SQL keeps re-runs honest."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from activations.executor import execute
from activations.policies.pause_high_cpa import POLICY, POLICY_VERSION, evaluate_pauses
from activations.ports import PlatformClients
from activations.records import (
    ACTIVATION_DDL,
    APPEND_AUDIT_SQL,
    AUDIT_SCHEMA,
    DECISIONS_SCHEMA,
    RUNS_SCHEMA,
    UPSERT_DECISIONS_SQL,
    UPSERT_RUNS_SQL,
    audit_frame,
    decisions_frame,
    decisions_from_frame,
    runs_frame,
)
from tests.activations.fakes import AS_OF, FakeMetaClient, World

T0 = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(ACTIVATION_DDL)
    con.execute(ACTIVATION_DDL)  # idempotent
    yield con
    con.close()


def _policy_run():
    world = World().campaign("c1", target_cpa=20.0).campaign("c2", target_cpa=None)
    world.ad("1", spend=400.0, conversions=0, ad_group="10")
    world.ad("2", spend=400.0, conversions=40, ad_group="10")
    world.ad("3", spend=400.0, conversions=0, ad_group="11")  # last active: skipped
    world.ad("4", spend=400.0, conversions=0, campaign="c2", ad_group="12")  # no target: skipped
    perf, campaigns, ads = world.frames()
    return evaluate_pauses(perf, campaigns, ads, as_of=AS_OF)


def _frames(result, report, *, run_id):
    return (
        decisions_frame(
            result.decisions,
            run_id=run_id,
            dry_run=report.dry_run,
            created_at=report.started_at,
            report=report,
        ),
        runs_frame(
            report,
            result.decisions,
            policy=POLICY,
            policy_version=POLICY_VERSION,
            n_evaluated=result.n_evaluated,
        ),
        audit_frame(report),
    )


def _store(con, decisions: pl.DataFrame, runs: pl.DataFrame, audit: pl.DataFrame) -> None:
    con.register("staged_decisions", decisions.to_arrow())
    con.register("staged_runs", runs.to_arrow())
    con.register("staged_audit", audit.to_arrow())
    con.execute(UPSERT_DECISIONS_SQL)
    con.execute(UPSERT_RUNS_SQL)
    con.execute(APPEND_AUDIT_SQL)
    for name in ("staged_decisions", "staged_runs", "staged_audit"):
        con.unregister(name)


def _q(con, sql: str) -> list[tuple]:
    return con.sql(sql).fetchall()


def _one(con, sql: str) -> tuple:
    (row,) = _q(con, sql)
    return row


def _columns(con, table: str) -> list[str]:
    return [row[0] for row in _q(con, f"DESCRIBE activation.{table}")]


def test_frame_columns_match_the_ddl_and_interfaces(con) -> None:
    result = _policy_run()
    report = execute(result.decisions, clients=PlatformClients(), dry_run=True, run_id="r1", now=T0)
    decisions, runs, audit = _frames(result, report, run_id="r1")

    assert decisions.columns == _columns(con, "decisions") == list(DECISIONS_SCHEMA)
    assert runs.columns == _columns(con, "runs") == list(RUNS_SCHEMA)
    assert audit.columns == _columns(con, "audit_log") == list(AUDIT_SCHEMA)
    # INTERFACES.md §6, verbatim
    assert decisions.columns == [
        "decision_id",
        "run_id",
        "tenant_id",
        "platform",
        "action",
        "entity_type",
        "entity_id",
        "campaign_id",
        "reason",
        "evidence",
        "expected_impact",
        "policy",
        "policy_version",
        "dry_run",
        "status",
        "created_at",
        "applied_at",
    ]
    assert runs.columns == [
        "run_id",
        "policy",
        "policy_version",
        "dry_run",
        "n_evaluated",
        "n_proposed",
        "n_applied",
        "n_failed",
        "started_at",
        "finished_at",
    ]
    assert audit.columns == [
        "attempt_id",
        "decision_id",
        "run_id",
        "attempted_at",
        "request",
        "outcome",
        "detail",
    ]

    # positional insert works too (same order and compatible types)
    for table, frame in (("decisions", decisions), ("runs", runs), ("audit_log", audit)):
        con.register("f", frame.to_arrow())
        con.execute(f"INSERT INTO activation.{table} SELECT * FROM f")
        con.unregister("f")
    assert _one(con, "SELECT count(*) FROM activation.decisions")[0] == decisions.height == 3


def test_frames_content(con) -> None:
    result = _policy_run()
    report = execute(
        result.decisions,
        clients=PlatformClients(meta={"111": FakeMetaClient({})}),
        dry_run=True,
        run_id="r1",
        now=T0,
    )
    decisions, runs, audit = _frames(result, report, run_id="r1")

    assert sorted(decisions["status"].to_list()) == ["proposed", "skipped", "skipped"]
    assert decisions["created_at"].to_list() == [T0.replace(tzinfo=None)] * 3  # naive UTC
    for text in decisions["evidence"]:
        ev = json.loads(text)
        assert ev["as_of"] == AS_OF.isoformat() and ev["account_id"] == "111"
    row = runs.row(0, named=True)
    assert (row["n_evaluated"], row["n_proposed"], row["n_applied"], row["n_failed"], row["dry_run"]) == (
        4,
        1,
        0,
        0,
        True,
    )
    assert audit.height == 1 and json.loads(audit["request"][0])[0]["sent"] is False


def test_rerun_upserts_decisions_and_appends_audit(con) -> None:
    result = _policy_run()
    meta = FakeMetaClient(statuses={"1": "ACTIVE", "2": "ACTIVE", "3": "ACTIVE"})
    clients = PlatformClients(meta={"111": meta})

    dry = execute(result.decisions, clients=clients, dry_run=True, run_id="r1", now=T0)
    _store(con, *_frames(result, dry, run_id="r1"))
    live = execute(result.decisions, clients=clients, dry_run=False, run_id="r2", now=T1)
    _store(con, *_frames(result, live, run_id="r2"))
    again = execute(result.decisions, clients=clients, dry_run=False, run_id="r3", now=T1)
    _store(con, *_frames(result, again, run_id="r3"))
    dry_later = execute(result.decisions, clients=clients, dry_run=True, run_id="r4", now=T1)
    _store(con, *_frames(result, dry_later, run_id="r4"))

    rows = _q(
        con,
        "SELECT entity_id, status, run_id, dry_run, created_at, applied_at FROM activation.decisions ORDER BY entity_id",
    )
    assert len(rows) == 3  # no duplicates across four runs
    paused = next(r for r in rows if r[0] == "1")
    # applied in r2 and left alone after: r3 (already paused) and r4 (dry run) do not overwrite it
    assert paused[1:] == ("applied", "r2", False, T0.replace(tzinfo=None), T1.replace(tzinfo=None))
    assert len(meta.writes) == 1
    assert _one(con, "SELECT count(*) FROM activation.runs")[0] == 4
    outcomes = _q(con, "SELECT run_id, outcome FROM activation.audit_log ORDER BY run_id")
    assert outcomes == [("r1", "dry_run"), ("r2", "applied"), ("r3", "already_applied"), ("r4", "dry_run")]


def test_failed_decision_is_upgraded_when_a_retry_applies_it(con) -> None:
    result = _policy_run()
    meta = FakeMetaClient(statuses={"1": "ACTIVE"}, errors={"1": RuntimeError("timeout")})
    clients = PlatformClients(meta={"111": meta})
    first = execute(result.decisions, clients=clients, dry_run=False, run_id="r1", now=T0)
    _store(con, *_frames(result, first, run_id="r1"))
    assert _one(con, "SELECT status FROM activation.decisions WHERE entity_id = '1'") == ("failed",)

    meta.errors.clear()
    second = execute(result.decisions, clients=clients, dry_run=False, run_id="r2", now=T1)
    _store(con, *_frames(result, second, run_id="r2"))
    assert _one(con, "SELECT status, run_id FROM activation.decisions WHERE entity_id = '1'") == (
        "applied",
        "r2",
    )
    assert _one(con, "SELECT count(*) FROM activation.audit_log")[0] == 2


def test_empty_frames_keep_their_schema(con) -> None:
    report = execute([], clients=PlatformClients(), dry_run=True, run_id="r0", now=T0)
    decisions = decisions_frame([], run_id="r0", dry_run=True, created_at=T0, report=report)
    audit = audit_frame(report)
    assert decisions.height == 0 and decisions.schema == pl.Schema(DECISIONS_SCHEMA)
    assert audit.height == 0 and audit.schema == pl.Schema(AUDIT_SCHEMA)
    _store(
        con,
        decisions,
        runs_frame(report, [], policy=POLICY, policy_version=POLICY_VERSION, n_evaluated=0),
        audit,
    )
    assert _one(con, "SELECT n_proposed FROM activation.runs") == (0,)


def test_decisions_round_trip_through_the_table(con) -> None:
    result = _policy_run()
    frame = decisions_frame(result.decisions, run_id="r1", dry_run=True, created_at=T0)
    _store(con, frame, pl.DataFrame(schema=RUNS_SCHEMA), pl.DataFrame(schema=AUDIT_SCHEMA))
    back = decisions_from_frame(con.sql("SELECT * FROM activation.decisions").pl())
    by_id = {d.decision_id: d for d in back}
    for d in result.decisions:
        r = by_id[d.decision_id]
        assert (r.account_id, r.ad_group_id, r.as_of, r.status, r.entity_id, r.campaign_id) == (
            d.account_id,
            d.ad_group_id,
            d.as_of,
            d.status,
            d.entity_id,
            d.campaign_id,
        )
        assert r.expected_impact == d.expected_impact
        assert r.evidence["spend"] == d.evidence["spend"]
