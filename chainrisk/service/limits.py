"""Per-key rate limits (token buckets)."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    """A token bucket per caller: ``rate`` requests per second on average, bursts up to ``burst``.

    ``rate <= 0`` disables the limit. :meth:`take` returns 0 when the request may go ahead, else the whole
    seconds to wait (for ``Retry-After``).
    """

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, int(rate * 2)))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str, cost: float = 1.0) -> int:
        if self.rate <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[who] = (tokens - cost, now)
                return 0
            self._buckets[who] = (tokens, now)
            if len(self._buckets) > 100_000:  # many distinct unauthenticated clients: forget the full buckets
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
        return max(1, math.ceil((cost - tokens) / self.rate))
