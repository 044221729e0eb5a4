"""Per-connection message limits: a token bucket for rate limiting and a one-second flood guard."""

import time
from collections import deque


class RateLimiter:
    """``rate`` messages a second with bursts of ``burst``; past ``flood`` in one second is flooding."""

    __slots__ = ("_recent", "_stamp", "_tokens", "burst", "flood", "rate")

    def __init__(self, rate: float, burst: int, flood: int) -> None:
        self.rate = rate
        self.burst = burst
        self.flood = flood
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._recent: deque[float] = deque(maxlen=flood + 1)

    def is_flooding(self, now: float | None = None) -> bool:
        """Record one message; true when more than ``flood`` arrived within the last second."""
        now = time.monotonic() if now is None else now
        self._recent.append(now)
        return len(self._recent) > self.flood and now - self._recent[0] < 1.0

    def allow(self, now: float | None = None) -> bool:
        """Take a token for one message; false when the bucket is empty."""
        now = time.monotonic() if now is None else now
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
