"""The executor against fake connector clients: dry run, apply once, read back, failures, audit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from activations.decisions import Decision, make_decision_id
from activations.executor import execute
from activations.ports import GoogleAdsPort, MetaAdsPort, PlatformClients
from tests.activations.fakes import (
    ConnectorError,
    FakeGoogleClient,
    FakeMetaClient,
    GoogleClientWithoutValidateOnly,
)

NOW = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)
AS_OF = date(2026, 3, 14)
GOOGLE_CID = "1234567890"


def _decision(
    ad_id: str, *, platform: str = "meta", account: str = "111", ad_group: str = "555", **kw
) -> Decision:
    fields = dict(
        decision_id=make_decision_id(
            policy="pause_high_cpa",
            policy_version="1",
            tenant_id="northwind",
            platform=platform,
            entity_type="ad",
            entity_id=ad_id,
            action="pause_ad",
            as_of=AS_OF,
        ),
        policy="pause_high_cpa",
        policy_version="1",
        tenant_id="northwind",
        platform=platform,
        account_id=account,
        action="pause_ad",
        entity_type="ad",
        entity_id=ad_id,
        campaign_id="77",
        ad_group_id=ad_group,
        as_of=AS_OF,
        reason=f"ad {ad_id} is bad",
        evidence={"spend": 400.0},
        expected_impact={"daily_spend_saved": 28.57},
    )
    fields.update(kw)
    return Decision(**fields)


def _resource(ad_group: str, ad_id: str) -> str:
    return f"customers/{GOOGLE_CID}/adGroupAds/{ad_group}~{ad_id}"


@pytest.fixture
def meta() -> FakeMetaClient:
    return FakeMetaClient(statuses={"1": "ACTIVE", "2": "ACTIVE", "3": "ACTIVE"})


@pytest.fixture
def google() -> FakeGoogleClient:
    return FakeGoogleClient(statuses={_resource("555", "9"): "ENABLED", _resource("555", "8"): "ENABLED"})


@pytest.fixture
def clients(meta: FakeMetaClient, google: FakeGoogleClient) -> PlatformClients:
    return PlatformClients(meta={"act_111": meta}, google_ads={"123-456-7890": google})


def _run(decisions, clients, *, dry_run: bool, run_id: str = "run-1", **kw):
    return execute(decisions, clients=clients, dry_run=dry_run, run_id=run_id, now=NOW, **kw)


def test_fakes_satisfy_the_ports(meta: FakeMetaClient, google: FakeGoogleClient) -> None:
    assert isinstance(meta, MetaAdsPort)
    assert isinstance(google, GoogleAdsPort)


def test_dry_run_writes_nothing(meta, google, clients) -> None:
    decisions = [_decision("1"), _decision("9", platform="google_ads", account=GOOGLE_CID)]
    report = _run(decisions, clients, dry_run=True)

    assert [r.status for r in report.results] == ["proposed", "proposed"]
    assert meta.writes == [] and google.writes == []
    assert meta.statuses["1"] == "ACTIVE" and google.statuses[_resource("555", "9")] == "ENABLED"
    # Google got a free validate-only call, without the decision's idempotency key
    (validation,) = google.mutates
    assert validation["validate_only"] is True and validation["key"] is None
    assert validation["changes"] == [(_resource("555", "9"), "PAUSED")]
    assert [a.outcome for a in report.audit] == ["dry_run", "validated"]
    assert report.n_proposed == 2 and report.n_applied == 0 and report.dry_run


def test_dry_run_records_a_rejected_validation_as_failed(google, clients) -> None:
    google.reject_validation = True
    report = _run([_decision("9", platform="google_ads", account=GOOGLE_CID)], clients, dry_run=True)
    (result,) = report.results
    assert result.status == "failed" and "invalid" in result.detail
    assert google.writes == []


def test_dry_run_does_not_call_a_client_without_validate_only() -> None:
    old = GoogleClientWithoutValidateOnly(statuses={})
    clients = PlatformClients(google_ads={GOOGLE_CID: old})
    report = _run([_decision("9", platform="google_ads", account=GOOGLE_CID)], clients, dry_run=True)
    assert report.results[0].status == "proposed"
    assert old.mutates == []
    assert report.audit[0].outcome == "dry_run"


def test_live_meta_applies_once_and_reads_back(meta, clients) -> None:
    d = _decision("1")
    report = _run([d], clients, dry_run=False)

    (result,) = report.results
    assert result.status == "applied"
    assert result.applied_at == NOW
    assert (result.status_before, result.status_after) == ("ACTIVE", "PAUSED")
    assert meta.writes == [{"object_id": "1", "status": "PAUSED", "budget": None, "key": d.decision_id}]
    assert [r[0] for r in meta.reads] == ["1", "1"]  # read before, read back after
    assert meta.statuses["1"] == "PAUSED"
    (audit,) = report.audit
    assert audit.outcome == "applied"
    assert [c["op"] for c in audit.request] == ["read", "write", "verify"]


def test_live_google_pauses_the_ad_group_ad_resource(google, clients) -> None:
    d = _decision("9", platform="google_ads", account="123-456-7890")
    report = _run([d], clients, dry_run=False)

    assert report.results[0].status == "applied"
    (write,) = google.writes
    assert write["key"] == d.decision_id
    assert write["changes"] == [(_resource("555", "9"), "PAUSED")]
    assert google.statuses[_resource("555", "9")] == "PAUSED"
    assert len(google.searches) == 2 and all("ad_group_ad.status" in q for q in google.searches)


def test_repeated_execute_writes_once(meta, google, clients) -> None:
    decisions = [_decision("1"), _decision("9", platform="google_ads", account=GOOGLE_CID)]
    first = _run(decisions, clients, dry_run=False, run_id="run-1")
    second = _run(decisions, clients, dry_run=False, run_id="run-2")

    assert [r.status for r in first.results] == ["applied", "applied"]
    assert [r.status for r in second.results] == ["applied", "applied"]
    assert len(meta.writes) == 1 and len(google.writes) == 1
    assert [a.outcome for a in second.audit] == ["already_applied", "already_applied"]
    assert all(r.applied_at is None for r in second.results)  # nothing was applied by this run
    assert {a.attempt_id for a in first.audit}.isdisjoint({a.attempt_id for a in second.audit})


def test_duplicated_decisions_in_one_batch_are_executed_once(meta, clients) -> None:
    d = _decision("1")
    report = _run([d, d], clients, dry_run=False)
    assert len(report.results) == 1 and len(report.audit) == 1
    assert len(meta.writes) == 1


def test_a_client_error_fails_that_decision_only(meta, clients) -> None:
    meta.errors["2"] = ConnectorError(
        "Meta error 100: Unsupported post request (access_token=EAAB-secret-token)"
    )
    decisions = [_decision("1"), _decision("2"), _decision("3")]
    report = _run(decisions, clients, dry_run=False)

    assert [r.status for r in report.results] == ["applied", "failed", "applied"]
    failed = report.results[1]
    assert "Unsupported post request" in failed.detail
    assert "EAAB-secret-token" not in failed.detail
    assert meta.statuses == {"1": "PAUSED", "2": "ACTIVE", "3": "PAUSED"}
    assert report.n_applied == 2 and report.n_failed == 1
    assert [a.outcome for a in report.audit] == ["applied", "failed", "applied"]


def test_an_error_during_the_write_is_failed_and_audited(google, clients) -> None:
    resource = _resource("555", "9")

    class Boom(ConnectorError):
        pass

    original = google.mutate_ad_group_ads

    def failing_mutate(changes, *, validate_only=False, idempotency_key=None):
        original(changes, validate_only=validate_only, idempotency_key=idempotency_key)
        raise Boom("INTERNAL: backend error")

    google.mutate_ad_group_ads = failing_mutate  # type: ignore[method-assign]
    report = _run([_decision("9", platform="google_ads", account=GOOGLE_CID)], clients, dry_run=False)
    assert report.results[0].status == "failed"
    assert report.results[0].detail == "Boom: INTERNAL: backend error"
    assert google.statuses[resource] == "PAUSED"  # it may have landed; the next run will see PAUSED
    assert [c["op"] for c in report.audit[0].request] == ["read", "write"]


def test_a_write_that_does_not_stick_is_failed(meta, clients) -> None:
    meta.ignore_writes = True
    report = _run([_decision("1")], clients, dry_run=False)
    assert report.results[0].status == "failed"
    assert "read back status 'ACTIVE'" in report.results[0].detail


def test_missing_client_unknown_ad_and_bad_ids_fail_without_raising(clients) -> None:
    decisions = [
        _decision("1", account="999"),  # no client for that account
        _decision("404"),  # the fake raises KeyError for an unknown ad: still no exception out
        _decision("7", platform="google_ads", account=GOOGLE_CID),  # not on the platform
        _decision("9' OR 1=1", platform="google_ads", account=GOOGLE_CID),  # never reaches GAQL
        _decision("5", platform="linkedin"),
    ]
    report = _run(decisions, clients, dry_run=False)
    assert [r.status for r in report.results] == ["failed"] * 5
    assert "no meta client configured for account 999" in report.results[0].detail
    assert "not found" in report.results[2].detail
    assert "expected digits" in report.results[3].detail
    assert len(report.audit) == 5


def test_gone_ads_are_skipped(meta, clients) -> None:
    meta.statuses["1"] = "ARCHIVED"
    report = _run([_decision("1")], clients, dry_run=False)
    assert report.results[0].status == "skipped" and meta.writes == []
    assert report.audit[0].outcome == "skipped"


def test_skipped_decisions_pass_through_untouched(meta, clients) -> None:
    d = _decision("1", status="skipped", reason="kept: last active ad")
    report = _run([d], clients, dry_run=False)
    assert report.results[0].status == "skipped" and report.audit == []
    assert meta.reads == [] and meta.writes == []


def test_kill_switch_stops_every_call(meta, google, clients) -> None:
    decisions = [_decision("1"), _decision("9", platform="google_ads", account=GOOGLE_CID)]
    report = _run(decisions, clients, dry_run=False, kill_switch=True)
    assert [r.status for r in report.results] == ["skipped", "skipped"]
    assert meta.reads == [] and meta.writes == [] and google.mutates == [] and google.searches == []
    assert [a.outcome for a in report.audit] == ["skipped", "skipped"]


def test_audit_has_a_row_per_attempt_and_no_secrets(meta, google, clients) -> None:
    meta.errors["2"] = ConnectorError("boom")
    decisions = [_decision("1"), _decision("2"), _decision("9", platform="google_ads", account=GOOGLE_CID)]
    report = _run(decisions, clients, dry_run=False, run_id="run-7")

    assert [a.decision_id for a in report.audit] == [d.decision_id for d in decisions]
    assert all(a.run_id == "run-7" and a.attempted_at == NOW for a in report.audit)
    assert len({a.attempt_id for a in report.audit}) == 3
    text = json.dumps([a.request for a in report.audit]) + " ".join(a.detail for a in report.audit)
    assert meta.access_token not in text and google.developer_token not in text
    write = next(c for c in report.audit[0].request if c["op"] == "write")
    assert write["idempotency_key"] == decisions[0].decision_id


def test_now_may_be_a_clock() -> None:
    ticks = iter(datetime(2026, 3, 15, 6, 0, s, tzinfo=UTC) for s in range(60))
    meta = FakeMetaClient(statuses={"1": "ACTIVE"})
    report = execute(
        [_decision("1")],
        clients=PlatformClients(meta={"111": meta}),
        dry_run=False,
        run_id="r",
        now=lambda: next(ticks),
    )
    assert (
        report.started_at < report.audit[0].attempted_at < report.results[0].applied_at < report.finished_at
    )
