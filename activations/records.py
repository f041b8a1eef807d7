"""Decisions and execution reports as polars frames shaped like the activation.* tables (INTERFACES §6).

The pipeline owns the warehouse writes; this module only shapes the rows and carries the SQL:
- `ACTIVATION_DDL`: CREATE SCHEMA/TABLE IF NOT EXISTS for activation.decisions, .runs and .audit_log;
- `UPSERT_DECISIONS_SQL`: upsert of a registered relation `staged_decisions` by decision_id, so a re-run
  does not duplicate and never downgrades a decision that was already applied;
- `UPSERT_RUNS_SQL`: insert-or-replace of a registered `staged_runs` (keyed by run_id, policy);
- `APPEND_AUDIT_SQL`: append of a registered `staged_audit` (the audit log is append-only).

Timestamps are naive UTC (`TIMESTAMP`). Evidence, expected impact and the audit request summary are
JSON text. activation.decisions has no account or ad group column, so those ride in `evidence`
(`account_id`, `ad_group_id`, plus `as_of`); `decisions_from_frame` restores them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from activations.decisions import DECISION_STATUSES, Decision
from activations.executor import ExecutionReport

DECISIONS_SCHEMA: dict[str, pl.DataType] = {
    "decision_id": pl.Utf8(),
    "run_id": pl.Utf8(),
    "tenant_id": pl.Utf8(),
    "platform": pl.Utf8(),
    "action": pl.Utf8(),
    "entity_type": pl.Utf8(),
    "entity_id": pl.Utf8(),
    "campaign_id": pl.Utf8(),
    "reason": pl.Utf8(),
    "evidence": pl.Utf8(),
    "expected_impact": pl.Utf8(),
    "policy": pl.Utf8(),
    "policy_version": pl.Utf8(),
    "dry_run": pl.Boolean(),
    "status": pl.Utf8(),
    "created_at": pl.Datetime("us"),
    "applied_at": pl.Datetime("us"),
}

RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.Utf8(),
    "policy": pl.Utf8(),
    "policy_version": pl.Utf8(),
    "dry_run": pl.Boolean(),
    "n_evaluated": pl.Int64(),
    "n_proposed": pl.Int64(),
    "n_applied": pl.Int64(),
    "n_failed": pl.Int64(),
    "started_at": pl.Datetime("us"),
    "finished_at": pl.Datetime("us"),
}

AUDIT_SCHEMA: dict[str, pl.DataType] = {
    "attempt_id": pl.Utf8(),
    "decision_id": pl.Utf8(),
    "run_id": pl.Utf8(),
    "attempted_at": pl.Datetime("us"),
    "request": pl.Utf8(),
    "outcome": pl.Utf8(),
    "detail": pl.Utf8(),
}

_STATUSES_SQL = ", ".join(f"'{s}'" for s in DECISION_STATUSES)

ACTIVATION_DDL = f"""
CREATE SCHEMA IF NOT EXISTS activation;

CREATE TABLE IF NOT EXISTS activation.decisions (
    decision_id     VARCHAR PRIMARY KEY,
    run_id          VARCHAR NOT NULL,
    tenant_id       VARCHAR NOT NULL,
    platform        VARCHAR NOT NULL,
    action          VARCHAR NOT NULL,
    entity_type     VARCHAR NOT NULL,
    entity_id       VARCHAR NOT NULL,
    campaign_id     VARCHAR,
    reason          VARCHAR NOT NULL,
    evidence        VARCHAR NOT NULL,
    expected_impact VARCHAR,
    policy          VARCHAR NOT NULL,
    policy_version  VARCHAR NOT NULL,
    dry_run         BOOLEAN NOT NULL,
    status          VARCHAR NOT NULL CHECK (status IN ({_STATUSES_SQL})),
    created_at      TIMESTAMP NOT NULL,
    applied_at      TIMESTAMP
);

CREATE TABLE IF NOT EXISTS activation.runs (
    run_id          VARCHAR NOT NULL,
    policy          VARCHAR NOT NULL,
    policy_version  VARCHAR NOT NULL,
    dry_run         BOOLEAN NOT NULL,
    n_evaluated     BIGINT NOT NULL,
    n_proposed      BIGINT NOT NULL,
    n_applied       BIGINT NOT NULL,
    n_failed        BIGINT NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, policy)
);

CREATE TABLE IF NOT EXISTS activation.audit_log (
    attempt_id      VARCHAR NOT NULL,
    decision_id     VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    attempted_at    TIMESTAMP NOT NULL,
    request         VARCHAR NOT NULL,
    outcome         VARCHAR NOT NULL,
    detail          VARCHAR
);
"""

_DECISION_UPDATABLE = [c for c in DECISIONS_SCHEMA if c not in ("decision_id", "created_at", "applied_at")]
_DECISION_SET = ",\n    ".join(f"{c} = excluded.{c}" for c in _DECISION_UPDATABLE)

# A decision seen again (same id) takes the newest run's row, except that an 'applied' decision is left
# alone (a later dry run or failed retry must not hide that the change is live), the first created_at
# is kept, and applied_at is never cleared.
UPSERT_DECISIONS_SQL = f"""
INSERT INTO activation.decisions BY NAME SELECT * FROM staged_decisions
ON CONFLICT (decision_id) DO UPDATE SET
    {_DECISION_SET},
    applied_at = coalesce(excluded.applied_at, activation.decisions.applied_at)
WHERE activation.decisions.status <> 'applied'
"""

UPSERT_RUNS_SQL = "INSERT OR REPLACE INTO activation.runs BY NAME SELECT * FROM staged_runs"
APPEND_AUDIT_SQL = "INSERT INTO activation.audit_log BY NAME SELECT * FROM staged_audit"


def _utc_naive(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def decisions_frame(
    decisions: Iterable[Decision],
    *,
    run_id: str,
    dry_run: bool,
    created_at: datetime,
    report: ExecutionReport | None = None,
) -> pl.DataFrame:
    """Rows for activation.decisions (one per decision id); with a report, the execution's status."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for d in decisions:
        if d.decision_id in seen:
            continue
        seen.add(d.decision_id)
        result = report.result_for(d.decision_id) if report is not None else None
        evidence = {"as_of": d.as_of.isoformat(), **d.evidence}
        evidence.setdefault("account_id", d.account_id)
        evidence.setdefault("ad_group_id", d.ad_group_id)
        rows.append(
            {
                "decision_id": d.decision_id,
                "run_id": run_id,
                "tenant_id": d.tenant_id,
                "platform": d.platform,
                "action": d.action,
                "entity_type": d.entity_type,
                "entity_id": d.entity_id,
                "campaign_id": d.campaign_id,
                "reason": d.reason,
                "evidence": _json(evidence),
                "expected_impact": _json(d.expected_impact),
                "policy": d.policy,
                "policy_version": d.policy_version,
                "dry_run": dry_run,
                "status": result.status if result is not None else d.status,
                "created_at": _utc_naive(created_at),
                "applied_at": _utc_naive(result.applied_at) if result is not None else None,
            }
        )
    return pl.DataFrame(rows, schema=DECISIONS_SCHEMA)


def runs_frame(
    report: ExecutionReport,
    decisions: Sequence[Decision],
    *,
    policy: str,
    policy_version: str,
    n_evaluated: int,
) -> pl.DataFrame:
    """One activation.runs row; n_proposed counts what the policy proposed (its skips excluded)."""
    row = {
        "run_id": report.run_id,
        "policy": policy,
        "policy_version": policy_version,
        "dry_run": report.dry_run,
        "n_evaluated": int(n_evaluated),
        "n_proposed": sum(1 for d in decisions if d.status == "proposed"),
        "n_applied": report.n_applied,
        "n_failed": report.n_failed,
        "started_at": _utc_naive(report.started_at),
        "finished_at": _utc_naive(report.finished_at),
    }
    return pl.DataFrame([row], schema=RUNS_SCHEMA)


def audit_frame(report: ExecutionReport) -> pl.DataFrame:
    """Rows for activation.audit_log, one per attempt (append them, never upsert)."""
    rows = [
        {
            "attempt_id": a.attempt_id,
            "decision_id": a.decision_id,
            "run_id": a.run_id,
            "attempted_at": _utc_naive(a.attempted_at),
            "request": _json(a.request),
            "outcome": a.outcome,
            "detail": a.detail,
        }
        for a in report.audit
    ]
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA)


def decisions_from_frame(frame: pl.DataFrame) -> list[Decision]:
    """Rebuild `Decision`s from activation.decisions rows (e.g. approved ones, to execute later)."""
    out: list[Decision] = []
    for row in frame.iter_rows(named=True):
        evidence = json.loads(row["evidence"]) if row["evidence"] else {}
        as_of = date.fromisoformat(evidence.pop("as_of"))
        out.append(
            Decision(
                decision_id=row["decision_id"],
                policy=row["policy"],
                policy_version=row["policy_version"],
                tenant_id=row["tenant_id"],
                platform=row["platform"],
                account_id=str(evidence.get("account_id") or ""),
                action=row["action"],
                entity_type=row["entity_type"],
                entity_id=row["entity_id"],
                campaign_id=row["campaign_id"],
                ad_group_id=evidence.get("ad_group_id"),
                as_of=as_of,
                reason=row["reason"],
                evidence=evidence,
                expected_impact=json.loads(row["expected_impact"]) if row["expected_impact"] else {},
                status=row["status"],
            )
        )
    return out
