"""HttpClient builds each request's URL without httpx re-parsing the query, and redacts URLs field by
field: both must give exactly what the straightforward way gives (httpx's own URL building; the
`urlencode(parse_qsl(...))` redaction), checked here against those references on awkward inputs."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from connectors import http as http_module
from connectors.http import HttpClient
from connectors.redact import MASK, SENSITIVE_PARAMS, Redactor

BASE = "https://api.example.com/v1"
TOKEN = "tok-SECRET-1234567890"
_PIECES = ["a", "Z9", "_", "-", ".", "~", " ", "+", "&", "=", "#", "%", "%2C", "%zz", ",", ":", "/", "?",
           "é", "€", "[", "]", "*", "'", '"', "\\", ";", "@", "!", "$", "(", ")"]  # fmt: skip


def _text(rng: random.Random, longest: int = 12) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, longest)))


def _value(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randint(-(10**6), 10**6)
    if kind == 1:
        return rng.choice([True, False, None])
    if kind == 2:
        return [_text(rng) if rng.random() < 0.7 else rng.randint(0, 99) for _ in range(rng.randint(1, 3))]
    if kind == 3:
        return ",".join(_text(rng, 6) for _ in range(rng.randint(1, 20)))  # a long properties= list
    return _text(rng)


def _params(rng: random.Random) -> dict[str, Any]:
    names = ["limit", "after", "properties", "q", "access_token", "Key", "x y", "é", "a&b", "fields"]
    return {
        rng.choice(names) if rng.random() < 0.7 else _text(rng, 5): _value(rng)
        for _ in range(rng.randint(1, 6))
    }


def _sent_urls(params_list: list[dict[str, Any]], path: str) -> list[str]:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"ok": True})

    with HttpClient(BASE, transport=httpx.MockTransport(handle), secrets=[TOKEN]) as client:
        for params in params_list:
            client.get_json(path, params=params)
    return seen


def test_fast_url_building_is_on():
    assert http_module._FAST_URLS  # the pinned httpx passes the import-time self-check


@pytest.mark.parametrize(
    "path", ["things", "/things/a b/é", "crm/v3/objects/contacts", f"{BASE}/abs", f"{BASE}/q?x=1&after=2"]
)
def test_request_urls_are_what_httpx_builds(path):
    """Several hundred random parameter sets (lists, bools, None, ints, reserved and non-ASCII
    characters, repeated long values) through the client: every URL sent equals httpx's own."""
    rng = random.Random(20261207)
    params_list = [_params(rng) for _ in range(300)]
    params_list += [dict(params_list[i]) for i in range(0, 300, 7)]  # repeats hit the kept encodings
    fast = _sent_urls(params_list, path)
    slow = []
    with httpx.Client(
        base_url=BASE + "/",
        transport=httpx.MockTransport(lambda r: slow.append(str(r.url)) or httpx.Response(200)),
    ) as plain:
        for params in params_list:
            plain.get(path, params=params)
    assert fast == slow


def test_paging_params_and_empty_lists_as_httpx():
    seen: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={})

    with HttpClient(BASE, transport=httpx.MockTransport(handle)) as client:
        client.get_json(
            "crm/v3/objects/contacts", params={"limit": 100, "properties": "email,firstname", "after": "MTAw"}
        )
        client.get_json("x", params={"ids": [], "a": 1})  # httpx keeps an empty part: the slow path
        client.get_json("x", params={1: "a"})  # a non-string key: the slow path
    assert str(seen[0]) == f"{BASE}/crm/v3/objects/contacts?limit=100&properties=email%2Cfirstname&after=MTAw"
    assert seen[0].params["properties"] == "email,firstname"
    assert str(seen[1]) == str(httpx.URL(f"{BASE}/x", params={"ids": [], "a": 1}))
    assert str(seen[2]) == f"{BASE}/x?1=a"


def test_cookies_set_by_a_server_are_still_sent_back():
    cookies_seen: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        cookies_seen.append(request.headers.get("cookie"))
        headers = {"set-cookie": "session=abc; Path=/"} if len(cookies_seen) == 1 else {}
        return httpx.Response(200, json={}, headers=headers)

    with HttpClient(BASE, transport=httpx.MockTransport(handle)) as client:
        for _ in range(3):
            client.get_json("things", params={"a": 1})
    assert cookies_seen == [None, "session=abc", "session=abc"]


def _reference_redacted_url(redactor: Redactor, url: str) -> str:
    """Redactor.url as it was: the whole query through parse_qsl and urlencode."""
    raw = url
    try:
        parts = urlsplit(raw)
    except ValueError:
        return redactor.text(raw)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        cleaned = [(k, MASK if k.lower() in SENSITIVE_PARAMS else v) for k, v in pairs]
        raw = urlunsplit(parts._replace(query=urlencode(cleaned, safe="*,:()[]{}\"'")))
    return redactor.text(raw)


def test_redacted_urls_equal_the_whole_query_redaction():
    rng = random.Random(7)
    redactor = Redactor([TOKEN, "s3cr3t-value"])
    names = ["access_token", "ACCESS_TOKEN", "limit", "after", "key", "properties", "token", "q", ""]
    urls = []
    for i in range(600):
        fields = []
        for _ in range(rng.randint(0, 7)):
            name = rng.choice(names) if rng.random() < 0.6 else _text(rng, 4)
            value = (
                rng.choice([TOKEN, "s3cr3t-value", "100"])
                if rng.random() < 0.2
                else _text(rng, 90 if i % 3 else 8)
            )
            fields.append(rng.choice([f"{name}={value}", name, "", f"{name}={value}={value}"]))
        urls.append(f"https://h.example/p/a%20b?{'&'.join(fields)}" + ("#frag" if i % 11 == 0 else ""))
    urls.append("https://h/p?developer_token=d&a=1")
    # prefixes urlsplit treats in its own ways: upper-case scheme, no netloc, brackets, userinfo, port,
    # spaces and controls it strips or removes, empty queries, fragments, "?" inside the query
    prefixes = [
        "HTTPS://h.example/p",
        "foo:///p",
        "file:///tmp/x",
        "https://[::1]:8080/p",
        "https://u:pw@h/p",
        "https://h:443",
        " https://h/p",
        "https://h/p\t/q",
        "https://h/p\n",
        "mailto:a@b",
        "https://h/p?",
        "https://h/é",
        "x://h/p;params",
        "https://h/p#f?",
    ]
    for prefix in prefixes:
        for query in [
            "",
            "&&",
            "a=1",
            "token=abc&b=2",
            "a=1?b=2&key=v",
            "a=é",
            "a=1#frag",
            "q=a b",
            "x=\x7f",
            "a=1\tb=2\n",
        ]:
            urls.append(f"{prefix}?{query}")
    for url in urls + urls:  # the second pass reads the kept long fields
        assert redactor.url(url) == _reference_redacted_url(redactor, url), url
        assert TOKEN not in redactor.url(url) and "s3cr3t-value" not in redactor.url(url)


def _reference_text(redactor: Redactor, text: str) -> str:
    """`Redactor.text` as it was: the literal secrets, then every pattern substituted unconditionally."""
    from connectors import redact

    for secret in redactor._secrets:
        text = text.replace(secret, MASK)
    text = redact._PARAM_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = redact._HEADER_LINE_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return redact._BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)


def test_text_redaction_equals_every_pattern_applied():
    """The word checks that skip a pattern never skip a match: random text built of credential names in
    mixed case, separators, values and characters the patterns' case-insensitive matching folds
    (dotless i, Kelvin sign, long s) redacts as if every pattern ran."""
    rng = random.Random(11)
    redactor = Redactor([TOKEN])
    words = [
        *SENSITIVE_PARAMS,
        "authorization",
        "developer-token",
        "access-token",
        "x-api-key",
        "api-key",
        "bearer",
        "limit",
        "properties",
    ]
    pieces = ["=", ": ", '":"', "&", " ", "\n", ",", "abcDEF123456", TOKEN, "ı", "\u212a", "ſ", "é", "-", "_"]
    for _ in range(4000):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                word = rng.choice(words)
                word = "".join(c.upper() if rng.random() < 0.3 else c for c in word)
                if rng.random() < 0.1:  # a character re's IGNORECASE folds onto an ASCII letter
                    word = word.replace("i", "ı", 1).replace("k", "\u212a", 1).replace("s", "ſ", 1)
                parts.append(word)
            else:
                parts.append(rng.choice(pieces))
        text = "".join(parts)
        assert redactor.text(text) == _reference_text(redactor, text), text
    for text in ["Authorization: Bearer abcdefgh", "x?hapikey=v&KEY=w", "authorızation: x", "API-\u212aEY=v"]:
        assert redactor.text(text) == _reference_text(redactor, text)


def test_every_credential_name_holds_a_word_the_redactor_checks_for():
    # The word checks gate the patterns: a credential parameter or header added without its word would
    # go unmasked in ASCII text. Deterministic, beside the random equivalence above.
    from connectors import redact

    for name in SENSITIVE_PARAMS:
        assert any(word in f"{name}=" for word in redact._PARAM_WORDS), name
    for header in ("authorization", "developer-token", "access-token", "x-api-key", "api-key"):
        assert redact._HEADER_LINE_RE.search(f"{header}: v") and any(
            w in header for w in redact._HEADER_WORDS
        )
