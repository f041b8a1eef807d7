"""Execute decisions against the platforms through connector clients: dry run, apply, read back, audit.

For each decision (DESIGN.md §8):
- 'skipped' decisions pass through untouched (no platform call, no audit row);
- kill switch on: nothing is sent; the decision is 'skipped' and audited;
- dry run: nothing is written. Google gets a free `validate_only` mutate when its client declares that
  parameter (the decision's idempotency key is *not* sent with it, so the validation can never be
  replayed as the answer to the real write); the decision stays 'proposed' ('failed' if the platform
  rejects it);
- live: read the current status; already PAUSED -> 'applied' without writing (so a retried or repeated
  run never writes twice); REMOVED/DELETED/ARCHIVED -> 'skipped'; otherwise write with
  `idempotency_key=decision_id`, read back, and 'applied' only if the platform now says PAUSED.
- LinkedIn and TikTok (activations/paid_social.py) also take `pause_ad_group` and `set_daily_budget`
  on their ad groups (LinkedIn campaigns / TikTok ad groups; the amount is
  `evidence["new_daily_budget"]`). Neither platform has a validate-only write, so a dry run sends
  nothing; live runs read, write once with the key, and read back (a budget already at the amount is
  'applied' without a write).
Any exception from a client becomes 'failed' with its (redacted) message; nothing escapes, and one
failure does not stop the others. Every attempt appends one audit row.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from activations.decisions import (
    ACTION_PAUSE_AD,
    ACTION_PAUSE_AD_GROUP,
    ACTION_SET_DAILY_BUDGET,
    ENTITY_AD,
    ENTITY_AD_GROUP,
    PLATFORM_GOOGLE_ADS,
    PLATFORM_LINKEDIN,
    PLATFORM_META,
    PLATFORM_TIKTOK,
    Decision,
)
from activations.paid_social import TargetError, budget_amount, target_for
from activations.ports import (
    GoogleAdsPort,
    MetaAdsPort,
    PlatformClients,
    accepts_keyword,
    normalize_account_id,
)

PAUSED = "PAUSED"
GONE_STATUSES = frozenset({"DELETED", "ARCHIVED", "REMOVED"})
META_READ_FIELDS: tuple[str, ...] = ("id", "status")

# Audit outcomes: finer than the decision status, so an auditor can tell a no-op from a write.
OUTCOME_DRY_RUN = "dry_run"  # nothing sent
OUTCOME_VALIDATED = "validated"  # platform validate-only accepted it; nothing written
OUTCOME_APPLIED = "applied"  # written and read back as PAUSED
OUTCOME_ALREADY_APPLIED = "already_applied"  # platform already PAUSED; nothing written
OUTCOME_SKIPPED = "skipped"  # kill switch, or the entity is gone on the platform
OUTCOME_FAILED = "failed"  # error, rejection, or read-back mismatch


@dataclass(frozen=True)
class AuditRecord:
    attempt_id: str
    decision_id: str
    run_id: str
    attempted_at: datetime
    request: list[dict[str, Any]]  # summary of the calls made (ids, fields, key); never credentials
    outcome: str
    detail: str


@dataclass(frozen=True)
class ExecutionResult:
    decision_id: str
    status: str  # proposed | applied | failed | skipped
    detail: str
    applied_at: datetime | None = None
    status_before: str | None = None
    status_after: str | None = None


@dataclass
class ExecutionReport:
    run_id: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime
    results: list[ExecutionResult] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def n_proposed(self) -> int:
        return self._count("proposed")

    @property
    def n_applied(self) -> int:
        return self._count("applied")

    @property
    def n_failed(self) -> int:
        return self._count("failed")

    @property
    def n_skipped(self) -> int:
        return self._count("skipped")

    def result_for(self, decision_id: str) -> ExecutionResult | None:
        for r in self.results:
            if r.decision_id == decision_id:
                return r
        return None


class _Failed(Exception):
    """Internal: a step concluded 'failed' (rejection, verify mismatch, bad input)."""


def execute(
    decisions: Iterable[Decision],
    *,
    clients: PlatformClients,
    dry_run: bool = True,
    run_id: str,
    now: Callable[[], datetime] | datetime | None = None,
    kill_switch: bool = False,
) -> ExecutionReport:
    clock = _clock(now)
    report = ExecutionReport(run_id=run_id, dry_run=dry_run, started_at=clock(), finished_at=clock())
    seen: set[str] = set()
    for decision in decisions:
        if decision.decision_id in seen:  # the same decision twice in one batch is executed once
            continue
        seen.add(decision.decision_id)
        if decision.status == "skipped":
            report.results.append(ExecutionResult(decision.decision_id, "skipped", decision.reason))
            continue
        attempt = _Attempt(decision=decision, run_id=run_id, attempted_at=clock(), seq=len(report.audit))
        result = attempt.run(clients=clients, dry_run=dry_run, kill_switch=kill_switch, clock=clock)
        report.results.append(result)
        report.audit.append(attempt.audit_record(result))
    report.finished_at = clock()
    return report


def _clock(now: Callable[[], datetime] | datetime | None) -> Callable[[], datetime]:
    if now is None:
        return lambda: datetime.now(UTC)
    if isinstance(now, datetime):
        return lambda: now
    return now


_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"(?i)(access_token|developer[-_]?token|api[-_]?key|client_secret|authorization)"
            r"([\"']?\s*[=:]\s*[\"']?)(?!bearer\s)[^\s&\"',}]+"
        ),
        r"\1\2***",
    ),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]+"), r"\1***"),
)


def redact(text: str) -> str:
    """Belt and braces: connectors redact their errors, but nothing secret-looking reaches the audit."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _error_text(exc: BaseException) -> str:
    message = str(exc) or repr(exc)
    return redact(f"{type(exc).__name__}: {message}")


@dataclass
class _Attempt:
    decision: Decision
    run_id: str
    attempted_at: datetime
    seq: int
    calls: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = OUTCOME_FAILED

    def audit_record(self, result: ExecutionResult) -> AuditRecord:
        basis = json.dumps([self.run_id, self.decision.decision_id, self.attempted_at.isoformat(), self.seq])
        return AuditRecord(
            attempt_id=hashlib.sha256(basis.encode()).hexdigest()[:32],
            decision_id=self.decision.decision_id,
            run_id=self.run_id,
            attempted_at=self.attempted_at,
            request=self.calls,
            outcome=self.outcome,
            detail=result.detail,
        )

    def run(
        self, *, clients: PlatformClients, dry_run: bool, kill_switch: bool, clock: Callable[[], datetime]
    ) -> ExecutionResult:
        d = self.decision
        if kill_switch:
            self.outcome = OUTCOME_SKIPPED
            return ExecutionResult(
                d.decision_id, "skipped", "kill switch is on: nothing sent to the platform"
            )
        try:
            if (d.action, d.entity_type) not in _SUPPORTED.get(d.platform, {(ACTION_PAUSE_AD, ENTITY_AD)}):
                raise _Failed(f"unsupported action {d.action!r} on entity type {d.entity_type!r}")
            client = clients.for_account(d.platform, d.account_id)
            if client is None:
                raise _Failed(f"no {d.platform} client configured for account {d.account_id}")
            if d.platform == PLATFORM_META:
                return self._pause_meta(client, dry_run=dry_run, clock=clock)
            if d.platform == PLATFORM_GOOGLE_ADS:
                return self._pause_google(client, dry_run=dry_run, clock=clock)
            if d.platform in (PLATFORM_LINKEDIN, PLATFORM_TIKTOK):
                return self._paid_social(client, dry_run=dry_run, clock=clock)
            raise _Failed(f"unsupported platform {d.platform!r}")
        except (_Failed, TargetError) as exc:
            self.outcome = OUTCOME_FAILED
            return ExecutionResult(d.decision_id, "failed", redact(str(exc)))
        except Exception as exc:  # a ConnectorError, or anything else: never raise out
            self.outcome = OUTCOME_FAILED
            return ExecutionResult(d.decision_id, "failed", _error_text(exc))

    # --- Meta ---------------------------------------------------------------------------------------

    def _meta_status(self, client: MetaAdsPort, op: str) -> str | None:
        ad_id = self.decision.entity_id
        self.calls.append(
            {"op": op, "method": "get_object", "object_id": ad_id, "fields": list(META_READ_FIELDS)}
        )
        body = client.get_object(ad_id, list(META_READ_FIELDS))
        status = body.get("status") if isinstance(body, Mapping) else None
        return str(status).upper() if status is not None else None

    def _pause_meta(
        self, client: MetaAdsPort, *, dry_run: bool, clock: Callable[[], datetime]
    ) -> ExecutionResult:
        d = self.decision
        write = {
            "op": "write",
            "method": "update_object",
            "object_id": d.entity_id,
            "params": {"status": PAUSED},
            "idempotency_key": d.decision_id,
        }
        if dry_run:
            self.outcome = OUTCOME_DRY_RUN
            self.calls.append({**write, "sent": False})
            return ExecutionResult(
                d.decision_id, "proposed", f"dry run: would set Meta ad {d.entity_id} to PAUSED"
            )
        before = self._meta_status(client, "read")
        early = self._before_write(before)
        if early is not None:
            return early
        self.calls.append(write)
        response = client.update_object(d.entity_id, status=PAUSED, idempotency_key=d.decision_id)
        if isinstance(response, Mapping) and response.get("success") is False:
            raise _Failed(f"Meta rejected the update of ad {d.entity_id}: {json.dumps(dict(response))[:500]}")
        after = self._meta_status(client, "verify")
        return self._verified(before, after, clock)

    # --- Google Ads ---------------------------------------------------------------------------------

    def _google_resource(self) -> str:
        d = self.decision
        customer = normalize_account_id(PLATFORM_GOOGLE_ADS, d.account_id)
        parts = {"customer id": customer, "ad group id": d.ad_group_id or "", "ad id": d.entity_id}
        for name, value in parts.items():
            if not value.isdigit():  # ids are digits; also keeps the GAQL below injection-free
                raise _Failed(f"invalid Google Ads {name} {value!r}: expected digits")
        return f"customers/{customer}/adGroupAds/{d.ad_group_id}~{d.entity_id}"

    def _google_status(self, client: GoogleAdsPort, resource: str, op: str) -> str | None:
        query = (
            "SELECT ad_group_ad.resource_name, ad_group_ad.status FROM ad_group_ad "
            f"WHERE ad_group_ad.resource_name = '{resource}'"
        )
        self.calls.append({"op": op, "method": "search_stream", "query": query})
        for batch in client.search_stream(query):
            rows = batch.get("results", []) if isinstance(batch, Mapping) else []
            for row in rows or []:
                node = row.get("adGroupAd") or row.get("ad_group_ad") or {}
                name = node.get("resourceName", node.get("resource_name", resource))
                if name == resource and node.get("status"):
                    return str(node["status"]).upper()
        return None

    def _pause_google(
        self, client: GoogleAdsPort, *, dry_run: bool, clock: Callable[[], datetime]
    ) -> ExecutionResult:
        d = self.decision
        resource = self._google_resource()
        changes = [(resource, PAUSED)]
        summary = {"method": "mutate_ad_group_ads", "changes": [list(c) for c in changes]}
        if dry_run:
            if not accepts_keyword(client.mutate_ad_group_ads, "validate_only"):
                self.outcome = OUTCOME_DRY_RUN
                self.calls.append({"op": "write", **summary, "sent": False})
                return ExecutionResult(d.decision_id, "proposed", f"dry run: would set {resource} to PAUSED")
            self.calls.append({"op": "validate", **summary, "validate_only": True})
            # No idempotency key: a validation must never be replayed as the answer to the real write.
            outcome = client.mutate_ad_group_ads(changes, validate_only=True)
            _raise_on_partial_failure(outcome, "validation")
            self.outcome = OUTCOME_VALIDATED
            return ExecutionResult(
                d.decision_id, "proposed", f"dry run: Google validated pausing {resource}; nothing written"
            )
        before = self._google_status(client, resource, "read")
        early = self._before_write(before)
        if early is not None:
            return early
        self.calls.append(
            {"op": "write", **summary, "validate_only": False, "idempotency_key": d.decision_id}
        )
        outcome = client.mutate_ad_group_ads(changes, validate_only=False, idempotency_key=d.decision_id)
        _raise_on_partial_failure(outcome, "mutate")
        after = self._google_status(client, resource, "verify")
        return self._verified(before, after, clock)

    # --- LinkedIn and TikTok ------------------------------------------------------------------------

    def _paid_social(self, client: Any, *, dry_run: bool, clock: Callable[[], datetime]) -> ExecutionResult:
        d = self.decision
        target = target_for(d.platform, client, d.entity_type, d.entity_id)
        where = f"{target.label} {target.noun} {d.entity_id}"
        if d.action == ACTION_SET_DAILY_BUDGET:
            return self._set_budget(
                target, budget_amount(d.evidence.get("new_daily_budget")), where, dry_run, clock
            )
        write = {
            "op": "write",
            "method": "set_status",
            "entity": where,
            "params": {"status": PAUSED},
            "idempotency_key": d.decision_id,
        }
        if dry_run:
            self.outcome = OUTCOME_DRY_RUN
            self.calls.append({**write, "sent": False})
            return ExecutionResult(
                d.decision_id,
                "proposed",
                f"dry run: would set {where} to PAUSED "
                f"({target.label} has no validate-only write); nothing sent",
            )
        self.calls.append({"op": "read", "method": "status", "entity": where})
        before = target.status()
        early = self._before_write(before)
        if early is not None:
            return early
        self.calls.append(write)
        target.set_status(PAUSED, d.decision_id)
        self.calls.append({"op": "verify", "method": "status", "entity": where})
        return self._verified(before, target.status(), clock)

    def _set_budget(
        self, target: Any, amount: Any, where: str, dry_run: bool, clock: Callable[[], datetime]
    ) -> ExecutionResult:
        d = self.decision
        write = {
            "op": "write",
            "method": "set_budget",
            "entity": where,
            "params": {"daily_budget": str(amount)},
            "idempotency_key": d.decision_id,
        }
        if dry_run:
            self.outcome = OUTCOME_DRY_RUN
            self.calls.append({**write, "sent": False})
            return ExecutionResult(
                d.decision_id,
                "proposed",
                f"dry run: would set the daily budget of {where} to {amount}; nothing sent",
            )
        self.calls.append({"op": "read", "method": "budget", "entity": where})
        before = target.budget()
        if before is None:
            raise _Failed(f"{where} has no daily budget to change (not found, or not a daily budget)")
        if before == amount:
            self.outcome = OUTCOME_ALREADY_APPLIED
            return ExecutionResult(
                d.decision_id,
                "applied",
                f"daily budget already {amount}; nothing written",
                status_before=str(before),
                status_after=str(before),
            )
        self.calls.append(write)
        target.set_budget(amount, d.decision_id)
        self.calls.append({"op": "verify", "method": "budget", "entity": where})
        after = target.budget()
        if after != amount:
            raise _Failed(f"wrote daily budget {amount} but read back {after} (was {before})")
        self.outcome = OUTCOME_APPLIED
        return ExecutionResult(
            d.decision_id,
            "applied",
            f"daily budget {before} -> {amount}, verified by read-back",
            applied_at=clock(),
            status_before=str(before),
            status_after=str(after),
        )

    # --- shared -------------------------------------------------------------------------------------

    def _before_write(self, before: str | None) -> ExecutionResult | None:
        d = self.decision
        if before is None:
            raise _Failed(f"{d.platform} ad {d.entity_id} not found (no status returned)")
        if before == PAUSED:
            self.outcome = OUTCOME_ALREADY_APPLIED
            return ExecutionResult(
                d.decision_id,
                "applied",
                f"already PAUSED on {d.platform}; nothing written",
                applied_at=None,
                status_before=before,
                status_after=before,
            )
        if before in GONE_STATUSES:
            self.outcome = OUTCOME_SKIPPED
            return ExecutionResult(
                d.decision_id,
                "skipped",
                f"ad is {before} on {d.platform}; nothing to pause",
                status_before=before,
            )
        return None

    def _verified(
        self, before: str | None, after: str | None, clock: Callable[[], datetime]
    ) -> ExecutionResult:
        d = self.decision
        if after != PAUSED:
            raise _Failed(f"wrote PAUSED but read back status {after!r} (was {before!r})")
        self.outcome = OUTCOME_APPLIED
        return ExecutionResult(
            d.decision_id,
            "applied",
            f"{before} -> PAUSED, verified by read-back",
            applied_at=clock(),
            status_before=before,
            status_after=after,
        )


_PAID_SOCIAL_ACTIONS = {
    (ACTION_PAUSE_AD, ENTITY_AD),
    (ACTION_PAUSE_AD_GROUP, ENTITY_AD_GROUP),
    (ACTION_SET_DAILY_BUDGET, ENTITY_AD_GROUP),
}
# (action, entity type) pairs each platform executes; others: pause_ad on ads only.
_SUPPORTED = {PLATFORM_LINKEDIN: _PAID_SOCIAL_ACTIONS, PLATFORM_TIKTOK: _PAID_SOCIAL_ACTIONS}


def _raise_on_partial_failure(outcome: Any, what: str) -> None:
    """Accept a `MutateOutcome` (`ok`, `partial_failures`) or a raw response body (`partialFailureError`)."""
    if isinstance(outcome, Mapping):
        error = outcome.get("partialFailureError")
        if error:
            message = error.get("message") if isinstance(error, Mapping) else None
            raise _Failed(f"Google Ads {what} rejected: {message or json.dumps(error, default=str)[:500]}")
        return
    if getattr(outcome, "ok", True):
        return
    failures = getattr(outcome, "partial_failures", None) or []
    messages = "; ".join(str(getattr(f, "message", None) or f) for f in failures) or "partial failure"
    raise _Failed(f"Google Ads {what} rejected: {messages[:500]}")
