"""A virtual clock for the in-process sandbox: waiting costs no wall time.

The fake APIs count rate-limit windows on this clock and the connector clients sleep on it, so
pacing, Retry-After and backoff run exactly as against a real platform, only without the waiting.
"""

from __future__ import annotations

import threading


class VirtualClock:
    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept = 0.0  # total virtual seconds waited, for reports and tests

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds}")
        with self._lock:
            self._now += seconds
            self.slept += seconds
