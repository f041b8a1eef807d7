"""Idempotency keys for writes: the first answer to a key is stored and replayed, never re-applied.

Keys are scoped per platform. A key reused with a different request is refused (like Stripe), so a
client bug cannot silently turn a new write into a replay. Entries live in memory and, when the state
has a world directory, in `<world_dir>/state/idempotency.jsonl` so they survive a restart.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

REPLAY_HEADER = "x-idempotent-replayed"


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int
    content_type: str
    body: bytes

    def response(self) -> httpx.Response:
        headers = {"content-type": self.content_type, REPLAY_HEADER: "true"}
        return httpx.Response(self.status, headers=headers, content=self.body)


class IdempotencyStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._answers: dict[tuple[str, str], StoredAnswer] = {}
        self._lock = threading.Lock()
        if path is not None and path.exists():
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                    answer = StoredAnswer(
                        raw["fingerprint"], int(raw["status"]), raw["content_type"], raw["body"].encode()
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{path}:{number}: not an idempotency record: {exc}") from exc
                self._answers[(raw["platform"], raw["key"])] = answer

    def get(self, platform: str, key: str) -> StoredAnswer | None:
        with self._lock:
            return self._answers.get((platform, key))

    def put(self, platform: str, key: str, fingerprint: str, response: httpx.Response) -> StoredAnswer:
        answer = StoredAnswer(
            fingerprint,
            response.status_code,
            response.headers.get("content-type", "application/json"),
            response.content,
        )
        with self._lock:
            self._answers[(platform, key)] = answer
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                record = {
                    "platform": platform,
                    "key": key,
                    "fingerprint": fingerprint,
                    "status": answer.status,
                    "content_type": answer.content_type,
                    "body": answer.body.decode("utf-8"),
                }
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, sort_keys=True) + "\n")
        return answer

    def __len__(self) -> int:
        return len(self._answers)
