"""Secret redaction for everything a connector writes down: error messages, logs, landing sidecars.

A `Redactor` knows the literal secrets of one client (tokens handed to it) and also scrubs the usual
places a credential hides even when nobody told us about it: `access_token=` style query parameters,
`Authorization`/`developer-token` headers and `Bearer <token>` fragments in free text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

#: Query parameters whose values are credentials on one platform or another.
SENSITIVE_PARAMS: frozenset[str] = frozenset(
    {
        "access_token",
        "input_token",
        "token",
        "api_key",
        "apikey",
        "key",
        "client_secret",
        "refresh_token",
        "hapikey",
        "developer_token",
        "appsecret_proof",
        "password",
    }
)

#: Header names (lower case) whose values are credentials.
SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "developer-token",
        "access-token",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
    }
)

_PARAM_RE = re.compile(
    r"(?i)\b("
    + "|".join(sorted(map(re.escape, SENSITIVE_PARAMS), key=len, reverse=True))
    + r")=([^&\s\"'#]+)"
)
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{6,}")
_HEADER_LINE_RE = re.compile(
    r"(?im)\b(authorization|developer-token|access-token|x-api-key|api-key)(\"?\s*[:=]\s*\"?)([^\"\n,}]+)"
)
_MIN_SECRET_LEN = 4
#: Lower-case words without which (in ASCII text) `_PARAM_RE` / `_HEADER_LINE_RE` cannot match: every
#: sensitive parameter name followed by "=" ends with one of `_PARAM_WORDS`, and every header name of
#: `_HEADER_LINE_RE` holds one of `_HEADER_WORDS`.
_PARAM_WORDS = ("token=", "key=", "secret=", "proof=", "password=")
_HEADER_WORDS = ("authorization", "-token", "api-key")


def _mask_param(m: re.Match[str]) -> str:
    return f"{m.group(1)}={MASK}"


def _mask_header(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}{MASK}"


def _mask_bearer(m: re.Match[str]) -> str:
    return f"{m.group(1)} {MASK}"


def _scrub(text: str) -> str:
    """The credential-looking fragments of `text` masked (parameters, header lines, bearer tokens)."""
    text = _PARAM_RE.sub(_mask_param, text)
    text = _HEADER_LINE_RE.sub(_mask_header, text)
    return _BEARER_RE.sub(_mask_bearer, text)


_QUERY_SAFE = "*,:()[]{}\"'"
#: Cleaned query fields of at least `_FIELD_CACHE_MIN` characters, kept: a connector sends the same long
#: field (HubSpot's `properties=` list) on every page, and its landing sidecar redacts the URL twice.
_FIELD_CACHE: dict[str, str] = {}
_PLAIN_FIELD = re.compile(r"[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*")
_FIELD_CACHE_MIN = 64
_FIELD_CACHE_SIZE = 256


#: An ASCII URL that urlsplit splits into scheme, a non-empty netloc (no brackets, no userinfo), path and a
#: query, with no fragment and nothing urlsplit strips or removes (controls, spaces), so that urlunsplit of
#: its parts with a new query is `scheme://netloc/path?query` (no "?" when the query is empty).
_SIMPLE_QUERY_URL = re.compile(
    r"([a-z][a-z0-9+.-]*://[A-Za-z0-9.:-]+(?:/[^?#\x00-\x20\x7f]*)?)\?([^#\x00-\x20\x7f]*)"
)


def _clean_field(field: str) -> str:
    """One `name=value` field of a query, decoded, its value masked when the name is a credential's, and
    encoded again: `urlencode(parse_qsl(query, keep_blank_values=True))` with sensitive values masked,
    one field at a time (both treat each "&"-separated field on its own)."""
    if _PLAIN_FIELD.fullmatch(field):  # nothing to decode or encode
        key = field.partition("=")[0]
        return f"{key}={MASK}" if key.lower() in SENSITIVE_PARAMS else field
    cached = _FIELD_CACHE.get(field)
    if cached is not None:
        return cached
    ((key, value),) = parse_qsl(field, keep_blank_values=True)
    masked = key.lower() in SENSITIVE_PARAMS
    clean = urlencode([(key, MASK if masked else value)], safe=_QUERY_SAFE)
    if len(field) >= _FIELD_CACHE_MIN and not masked:
        if len(_FIELD_CACHE) >= _FIELD_CACHE_SIZE:
            _FIELD_CACHE.clear()
        _FIELD_CACHE[field] = clean
    return clean


class Redactor:
    """Replaces known secrets and credential-looking fragments with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first so that a secret containing another is masked whole.
        uniq = {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}
        self._secrets: tuple[str, ...] = tuple(sorted(uniq, key=len, reverse=True))

    def with_secrets(self, secrets: Iterable[str | None]) -> Redactor:
        return Redactor((*self._secrets, *secrets))

    def text(self, value: Any) -> str:
        """Redact a free-form string (or anything str() can render)."""
        text = value if isinstance(value, str) else str(value)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if not text.isascii():
            return _scrub(text)
        # ASCII text: each pattern can only match where one of its words occurs in the lower-cased text
        # (a long URL on every landed page rarely holds any). The words checked before a substitution stay
        # valid after it: a substitution only puts "***" in, and no word holds "*".
        low = text.lower()
        if any(word in low for word in _PARAM_WORDS):
            text = _PARAM_RE.sub(_mask_param, text)
        if any(word in low for word in _HEADER_WORDS):
            text = _HEADER_LINE_RE.sub(_mask_header, text)
        if "bearer" in low:
            text = _BEARER_RE.sub(_mask_bearer, text)
        return text

    def url(self, url: Any) -> str:
        """Redact a URL: sensitive query parameters masked, then any literal secret."""
        raw = str(url)
        simple = _SIMPLE_QUERY_URL.fullmatch(raw) if raw.isascii() else None
        if (
            simple is not None and simple[2]
        ):  # what urlsplit/urlunsplit give, without their passes over a long URL
            query = "&".join([_clean_field(field) for field in simple[2].split("&") if field])
            return self.text(f"{simple[1]}?{query}" if query else simple[1])
        try:
            parts = urlsplit(raw)
        except ValueError:
            return self.text(raw)
        if parts.query:
            cleaned = [_clean_field(field) for field in parts.query.split("&") if field]
            raw = urlunsplit(parts._replace(query="&".join(cleaned)))
        return self.text(raw)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            k: (MASK if k.lower() in SENSITIVE_HEADERS else self.text(v)) for k, v in dict(headers).items()
        }

    def mapping(self, value: Any) -> Any:
        """Redact a JSON-like structure recursively (dict keys that look sensitive are masked)."""
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = str(k)
                low = key.lower()
                if low in SENSITIVE_PARAMS or low in SENSITIVE_HEADERS:
                    out[key] = MASK
                elif low in {"url", "next", "link", "previous"} and isinstance(v, str):
                    out[key] = self.url(v)
                elif low == "headers" and isinstance(v, Mapping):
                    out[key] = self.headers(v)
                else:
                    out[key] = self.mapping(v)
            return out
        if isinstance(value, list | tuple):
            return [self.mapping(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def redact(text: Any, secrets: Iterable[str | None] = ()) -> str:
    """One-shot helper: ``redact("... token ...", ["token"])``."""
    return Redactor(secrets).text(text)
