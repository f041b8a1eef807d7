"""HttpClient: retries, waits, write safety, redaction, paging helpers."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors.errors import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimitedError,
    TransientError,
    WriteNotRetriedError,
)
from connectors.http import HttpClient, RetryPolicy, iter_pages, parse_retry_after
from tests.connectors.mock_api import Script, json_response

BASE = "https://api.example.com/v1"
TOKEN = "tok-SECRET-1234567890"


def client(script: Script, sleeps, rng, retry: RetryPolicy | None = None, **kw) -> HttpClient:
    return HttpClient(
        BASE,
        headers={"Authorization": f"Bearer {TOKEN}"},
        transport=script.transport,
        retry=retry or RetryPolicy(max_attempts=4),
        sleep=sleeps,
        rng=rng,
        platform="test",
        **kw,
    )


OK = json_response(200, {"ok": True})


def test_success_first_try(sleeps, rng):
    script = Script(OK)
    with client(script, sleeps, rng) as http:
        result = http.get_json("things", params={"a": 1})
    assert result.data == {"ok": True}
    assert result.attempts == 1
    assert str(script.requests[0].url) == f"{BASE}/things?a=1"
    assert script.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert sleeps == []


def test_429_retry_after_seconds_honoured(sleeps, rng):
    script = Script(json_response(429, {"e": 1}, {"Retry-After": "7"}), OK)
    with client(script, sleeps, rng) as http:
        assert http.get_json("x").data == {"ok": True}
    assert script.calls == 2
    assert sleeps == [7.0]


def test_retry_after_ms_preferred(sleeps, rng):
    script = Script(json_response(429, {}, {"retry-after-ms": "1500", "Retry-After": "9"}), OK)
    with client(script, sleeps, rng) as http:
        http.get_json("x")
    assert sleeps == [1.5]


def test_retry_after_http_date():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=20), usegmt=True)
    assert parse_retry_after({"retry-after": when}, now=now.timestamp()) == pytest.approx(20.0)
    assert parse_retry_after({"retry-after": "garbage"}) is None
    assert parse_retry_after({}) is None


def test_zero_retry_after_falls_back_to_backoff(sleeps, rng):
    script = Script(json_response(429, {}, {"Retry-After": "0"}), OK)
    with client(script, sleeps, rng, retry=RetryPolicy(base_delay=0.5)) as http:
        http.get_json("x")
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5


def test_retry_after_is_capped(sleeps, rng):
    script = Script(json_response(429, {}, {"Retry-After": "3600"}), OK)
    with client(script, sleeps, rng, retry=RetryPolicy(max_attempts=3, max_retry_after=45)) as http:
        http.get_json("x")
    assert sleeps == [45.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
def test_retryable_statuses_then_success(status, sleeps, rng):
    script = Script(json_response(status, {"err": "x"}), json_response(status, {"err": "x"}), OK)
    with client(script, sleeps, rng) as http:
        result = http.get_json("x")
    assert result.attempts == 3
    assert len(sleeps) == 2


def test_backoff_is_full_jitter_within_caps():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for attempt in range(1, 10):
        ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
        waits = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # jitter spans the range
    assert RetryPolicy(jitter="none", base_delay=1, max_delay=30).backoff(3, rng) == 4.0


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("read timed out"), httpx.ConnectTimeout("connect"), httpx.ConnectError("refused")],
)
def test_get_retries_timeouts_and_transport_errors(exc, sleeps, rng):
    script = Script(exc, exc, OK)
    with client(script, sleeps, rng) as http:
        assert http.get_json("x").attempts == 3


def test_gives_up_after_max_attempts_with_clear_error(sleeps, rng):
    script = Script(json_response(503, {"error": "down"}, {"x-request-id": "req-42"}))
    with (
        client(script, sleeps, rng, retry=RetryPolicy(max_attempts=5)) as http,
        pytest.raises(TransientError) as ei,
    ):
        http.get_json("x")
    err = ei.value
    assert script.calls == 5
    assert len(sleeps) == 4
    assert err.attempts == 5
    assert err.status == 503
    assert err.request_id == "req-42"
    assert err.platform == "test"
    assert "gave up after 5 attempts" in str(err)
    assert "down" in err.body_excerpt


def test_gives_up_on_persistent_429_as_rate_limited(sleeps, rng):
    script = Script(json_response(429, {}))
    with (
        client(script, sleeps, rng, retry=RetryPolicy(max_attempts=3)) as http,
        pytest.raises(RateLimitedError),
    ):
        http.get_json("x")
    assert script.calls == 3


def test_timeouts_exhausted(sleeps, rng):
    script = Script(httpx.ReadTimeout("slow"))
    with (
        client(script, sleeps, rng, retry=RetryPolicy(max_attempts=2)) as http,
        pytest.raises(TransientError) as ei,
    ):
        http.get_json("x")
    assert script.calls == 2
    assert "ReadTimeout" in str(ei.value)


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(400, PermanentError), (404, PermanentError), (401, AuthError), (403, AuthError), (422, PermanentError)],
)
def test_client_errors_not_retried(status, exc_type, sleeps, rng):
    script = Script(json_response(status, {"error": {"status": "INVALID_ARGUMENT"}}), OK)
    with client(script, sleeps, rng) as http, pytest.raises(exc_type) as ei:
        http.get_json("x")
    assert script.calls == 1
    assert sleeps == []
    assert ei.value.status == status


def test_truncated_json_body_is_retried_for_reads(sleeps, rng):
    script = Script(httpx.Response(200, content=b'{"data": [1, 2'), OK)
    with client(script, sleeps, rng) as http:
        assert http.get_json("x").data == {"ok": True}
    assert script.calls == 2


# -- writes ------------------------------------------------------------------------------------------


def test_post_without_key_not_retried_after_timeout(sleeps, rng):
    script = Script(httpx.ReadTimeout("timed out"), OK)
    with client(script, sleeps, rng) as http, pytest.raises(WriteNotRetriedError) as ei:
        http.post_json("objects/1", json={"status": "PAUSED"})
    assert script.calls == 1
    assert sleeps == []
    assert "idempotency key" in str(ei.value)


@pytest.mark.parametrize("status", [500, 503, 502])
def test_post_without_key_not_retried_after_5xx(status, sleeps, rng):
    script = Script(json_response(status, {}), OK)
    with client(script, sleeps, rng) as http, pytest.raises(WriteNotRetriedError) as ei:
        http.post_json("objects/1", json={})
    assert script.calls == 1
    assert ei.value.status == status


def test_patch_without_key_not_retried(sleeps, rng):
    script = Script(httpx.ReadTimeout("t"), OK)
    with client(script, sleeps, rng) as http, pytest.raises(WriteNotRetriedError):
        http.request_json("PATCH", "objects/1", json={})
    assert script.calls == 1


def test_post_without_key_retried_when_certainly_not_processed(sleeps, rng):
    # a connect error and a 429 rejection: the server did no work, so a retry cannot apply it twice
    script = Script(httpx.ConnectError("refused"), json_response(429, {}, {"Retry-After": "1"}), OK)
    with client(script, sleeps, rng) as http:
        result = http.post_json("objects/1", json={"status": "PAUSED"})
    assert result.attempts == 3
    assert "x-idempotency-key" not in script.requests[0].headers


def test_post_with_key_retried_like_get_with_same_key(sleeps, rng):
    script = Script(httpx.ReadTimeout("t"), json_response(500, {}), json_response(503, {}), OK)
    with client(script, sleeps, rng, retry=RetryPolicy(max_attempts=5)) as http:
        result = http.post_json("objects/1", json={"status": "PAUSED"}, idempotency_key="dec-123")
    assert result.attempts == 4
    keys = [r.headers.get("x-idempotency-key") for r in script.requests]
    assert keys == ["dec-123"] * 4
    assert all(r.content == script.requests[0].content for r in script.requests)


def test_post_marked_idempotent_read_is_retried(sleeps, rng):
    script = Script(json_response(500, {}), OK)
    with client(script, sleeps, rng) as http:
        assert http.post_json("search", json={"q": 1}, idempotent=True).attempts == 2


# -- redaction ----------------------------------------------------------------------------------------


def test_secrets_never_in_error_str_repr_or_logs(sleeps, rng, caplog):
    body = {"error": f"bad token {TOKEN}", "echo": f"Authorization: Bearer {TOKEN}"}
    script = Script(
        json_response(500, body),
        json_response(401, body, {"x-request-id": "r1"}),
    )
    caplog.set_level(logging.DEBUG)
    with client(script, sleeps, rng, secrets=("extra-secret-999",)) as http, pytest.raises(AuthError) as ei:
        http.get_json(f"x?access_token={TOKEN}&key=extra-secret-999")
    err = ei.value
    texts = [
        str(err),
        repr(err),
        str(err.args),
        err.body_excerpt or "",
        str(err.url),
        str(err.to_dict()),
        caplog.text,
    ]
    for text in texts:
        assert TOKEN not in text
        assert "extra-secret-999" not in text
    assert "***" in str(err)
    assert "access_token=***" in str(err)
    assert TOKEN not in repr(http)


def test_refuses_to_send_credentials_to_another_origin(sleeps, rng):
    script = Script(OK)
    with client(script, sleeps, rng) as http:
        for url in (
            "https://evil.example.net/steal",
            "//evil.example.net/steal",
            "http://api.example.com/v1/x",
        ):
            with pytest.raises(PermanentError):
                http.get_json(url)
        http.get_json("x?next=https://elsewhere.example.org/")  # a URL inside a parameter is fine
    assert script.calls == 1


def test_absolute_url_on_same_origin_allowed(sleeps, rng):
    script = Script(OK)
    with client(script, sleeps, rng) as http:
        http.get_json(f"{BASE}/page2?after=abc")
    assert str(script.requests[0].url) == f"{BASE}/page2?after=abc"


def test_classify_hook_decides_first(sleeps, rng):
    from connectors.http import RetryDecision

    def classify(response: httpx.Response):
        if response.status_code == 200 and b"THROTTLED" in response.content:
            return RetryDecision(True, RateLimitedError, "body says throttled", delay=2.0, rejected=True)
        return None

    script = Script(httpx.Response(200, content=b'{"code": "THROTTLED"}'), OK)
    with client(script, sleeps, rng, classify=classify) as http:
        assert http.post_json("w", json={}).attempts == 2  # rejected: even an un-keyed write retries
    assert sleeps == [2.0]


def test_pacer_sleeps_after_success(sleeps, rng):
    script = Script(OK)
    with client(script, sleeps, rng, pacer=lambda r: 1.25) as http:
        http.get_json("x")
    assert sleeps == [1.25]


def test_error_hierarchy():
    assert issubclass(RateLimitedError, TransientError)
    assert issubclass(AuthError, PermanentError)
    for cls in (TransientError, PermanentError, WriteNotRetriedError):
        assert issubclass(cls, ConnectorError)


# -- paging -------------------------------------------------------------------------------------------


def test_iter_pages_follows_until_cursor_absent_not_on_short_page():
    pages = {None: ([1, 2, 3], "a"), "a": ([4], "b"), "b": ([], "c"), "c": ([5, 6], None)}
    fetched = []

    def fetch(cursor):
        fetched.append(cursor)
        return pages[cursor]

    out = list(iter_pages(fetch, lambda p: p[1]))
    assert [p[0] for p in out] == [[1, 2, 3], [4], [], [5, 6]]
    assert fetched == [None, "a", "b", "c"]


def test_iter_pages_is_lazy_and_detects_loops():
    calls = []

    def fetch(cursor):
        calls.append(cursor)
        return cursor or "x"

    gen = iter_pages(fetch, lambda p: "x")
    assert next(gen) == "x"
    assert calls == [None]
    next(gen)
    with pytest.raises(PermanentError, match="repeated"):
        next(gen)


# ---- JSON decoding: orjson where it gives what json.loads gives, the stdlib otherwise ----------------
@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"spend": "12.34", "impressions": "1000"}], "paging": {}}',
        b'{"id": 123456789012345678901234567890, "n": -9223372036854775809}',  # beyond 64 bits: exact
        b'{"a" :\n  18446744073709551616}',  # just past uint64, whitespace before the token
        b"[18446744073709551615, -9223372036854775808, 9223372036854775807]",
        b" 12345678901234567890123",
        b"-9223372036854775809",  # below int64 at the very start of the body
        b"18446744073709551616",
        b'{"n":-18446744073709551616, "m": [1234567890123456789, -1234567890123456789]}',
        b'{"x": NaN, "y": Infinity, "z": 1e400}',
        b'{"id": "12345678901234567890123", "v": 0.1, "w": 1.10}',  # a long digit run inside a string
        '{"name": "caf\u00e9 \u2603", "s": "\\ud800"}'.encode(),
        "[1, 2]".encode("utf-16"),
    ],
)
def test_loads_gives_what_json_loads_gives(body):
    from connectors.http import loads

    expected = json.loads(body)
    got = loads(body)
    assert repr(got) == repr(expected)
    assert type(got) is type(expected)


@pytest.mark.parametrize("body", [b'{"data": [1, 2', b"", b"<html>busy</html>"])
def test_loads_rejects_what_json_loads_rejects(body):
    from connectors.http import loads

    with pytest.raises(ValueError):
        loads(body)


def test_response_json_parses_a_body_once():
    from connectors.http import response_json

    response = httpx.Response(200, content=b'{"code": 0, "data": {"list": [1]}}')
    first = response_json(response)
    assert first == {"code": 0, "data": {"list": [1]}}
    assert response_json(response) is first
    assert response_json(httpx.Response(204, content=b"")) is None
