"""In-process sliding-window rate limiter (no Redis needed for the embedded setup).

Each app process keeps its own windows; behind several processes the effective
limit is per process, which is acceptable for abuse protection on login and
submits. Memory is bounded by pruning idle keys.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from app.errors import RateLimited


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, what: str = "requests") -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._prune(now)
                hits = self._hits[key] = deque()
            while hits and now - hits[0] > self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                retry = int(self.window - (now - hits[0])) + 1
                raise RateLimited(
                    f"Too many {what}; try again in {retry} seconds.", retry_after=retry
                )
            hits.append(now)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def _prune(self, now: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or now - h[-1] > self.window]
        for k in stale:
            del self._hits[k]
