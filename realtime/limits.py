"""Per-connection message limits (docs/protocol.md §3): text frames only, the size of one message, a
token bucket for the rate, and a one-second flood guard.
"""

import time
from collections import deque

from django.conf import settings

from .protocol import CLOSE_FLOODING, CLOSE_PROTOCOL, CLOSE_TOO_BIG


def is_too_big(text: str, limit: int) -> bool:
    """More than ``limit`` bytes of UTF-8; counted only when the characters alone cannot tell."""
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit)


class MessageGate:
    """What one socket may send. ``close_code`` answers for the frame that closes the socket;
    ``allow`` (asked of every frame that passed) whether it is within the rate."""

    __slots__ = ("limiter", "max_bytes")

    def __init__(self) -> None:
        config = settings.REALTIME
        self.max_bytes = config["MAX_MESSAGE_BYTES"]
        self.limiter = RateLimiter(config["RATE_PER_SECOND"], config["RATE_BURST"], config["FLOOD_PER_SECOND"])

    def close_code(self, text: str | None) -> int | None:
        if text is None:
            return CLOSE_PROTOCOL  # a binary frame
        if is_too_big(text, self.max_bytes):
            return CLOSE_TOO_BIG
        if self.limiter.is_flooding():
            return CLOSE_FLOODING
        return None

    def allow(self) -> bool:
        return self.limiter.allow()


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
