"""Connector errors: one small hierarchy shared by every platform client.

```
ConnectorError
├── TransientError          retryable failure (5xx, timeout, truncated body); raised after retries ran out
│   └── RateLimitedError    throttled (HTTP 429 or a platform throttle body)
├── PermanentError          never retried (400 INVALID_ARGUMENT, 404, malformed request, bad paging)
│   └── AuthError           401/403, invalid or expired token, missing permission
└── WriteNotRetriedError    a non-idempotent write whose outcome is unknown: not retried on purpose
```

Every message, attribute and repr is redacted at construction: the caller passes the client's secrets
and the error keeps only scrubbed text, so logging an error (or its repr, or its args) never leaks one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.redact import Redactor

BODY_EXCERPT_CHARS = 500


class ConnectorError(Exception):
    """Base class. Attributes: status, platform, request_id, body_excerpt, code, attempts, method, url."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        platform: str | None = None,
        request_id: str | None = None,
        body_excerpt: str | bytes | None = None,
        code: str | int | None = None,
        method: str | None = None,
        url: str | None = None,
        attempts: int | None = None,
        secrets: Iterable[str | None] = (),
        redactor: Redactor | None = None,
    ) -> None:
        red = redactor.with_secrets(secrets) if redactor is not None else Redactor(secrets)
        if isinstance(body_excerpt, bytes):
            body_excerpt = body_excerpt.decode("utf-8", errors="replace")
        self.message = red.text(message)
        self.status = status
        self.platform = platform
        self.request_id = red.text(request_id) if request_id is not None else None
        self.body_excerpt = red.text(body_excerpt[:BODY_EXCERPT_CHARS]) if body_excerpt is not None else None
        self.code = red.text(code) if isinstance(code, str) else code
        self.method = method
        self.url = red.url(url) if url is not None else None
        self.attempts = attempts
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"[{self.platform}] " if self.platform else ""
        parts = [f"{head}{self.message}"]
        if self.method and self.url:
            parts.append(f"request={self.method} {self.url}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.attempts is not None:
            parts.append(f"attempts={self.attempts}")
        return " | ".join(parts)

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, "
            f"platform={self.platform!r}, code={self.code!r}, request_id={self.request_id!r}, "
            f"attempts={self.attempts!r}, body_excerpt={self.body_excerpt!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Redacted, JSON-friendly description (for audit logs and load logs)."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "status": self.status,
            "platform": self.platform,
            "code": self.code,
            "request_id": self.request_id,
            "method": self.method,
            "url": self.url,
            "attempts": self.attempts,
            "body_excerpt": self.body_excerpt,
        }


class TransientError(ConnectorError):
    """A failure that may succeed later (5xx, timeouts, connection drops, truncated bodies)."""

    retryable = True


class RateLimitedError(TransientError):
    """Throttled by the platform: HTTP 429 or a throttle error body (Meta code 17/4/32/613/80000-80014,
    Google RESOURCE_EXHAUSTED, HubSpot RATE_LIMIT)."""


class PermanentError(ConnectorError):
    """A failure retrying cannot fix (bad request, not found, invalid paging, unexpected body shape)."""


class AuthError(PermanentError):
    """Missing, invalid or expired credentials, or not allowed to touch the object."""


class WriteNotRetriedError(ConnectorError):
    """A write without an idempotency key failed in a way that leaves its outcome unknown (timeout after
    the request was sent, 5xx, dropped connection). It was NOT retried, because a retry could apply it
    twice. Read the object back, or resend with an idempotency key."""


class FileImportError(ConnectorError):
    """A file (or one record of it) could not be imported. Names the path, the field and the line."""

    def __init__(
        self,
        path: Any,
        reason: str,
        *,
        field: str | None = None,
        line: int | None = None,
        row: int | None = None,
    ) -> None:
        self.path = str(path)
        self.field = field
        self.line = line
        self.row = row
        self.reason = reason
        where = self.path
        if line is not None:
            where += f":{line}"
        elif row is not None:
            where += f" (row {row})"
        msg = f"{where}: {reason}"
        if field is not None:
            msg += f" [field={field}]"
        super().__init__(msg, platform="file")

    def _render(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"FileImportError(path={self.path!r}, field={self.field!r}, line={self.line!r}, "
            f"row={self.row!r}, reason={self.reason!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "FileImportError",
            "path": self.path,
            "field": self.field,
            "line": self.line,
            "row": self.row,
            "reason": self.reason,
        }
