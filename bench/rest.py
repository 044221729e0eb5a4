"""Events published over HTTP, as workers publish them: keep-alive connections from one asyncio loop.

Both producers use it. Ours posts ``{"message": "t=<time>", "transition_id": ...}`` to
``POST /api/analyses/<id>/transition/`` with a worker's JWT; the relay posts to its publish view,
``POST /publish/<id>``. An endpoint says where to post, what, and which time an event carries:
the server's own clock as its answer reports it, so that the latency of either runs from the
server's write to the socket. For ours that is the snapshot's ``updated_at``, taken in the
transaction right before the commit (so the commit itself counts against us); for the relay the
send time its view returns, taken right before ``group_send``. The moment the response arrived
would flatter ours: our broadcast leaves the server while the response is still on its way, and
many events reached their sockets before the producer had its answer.

- ``paced``: events at a fixed rate over the analyses, round-robin, each sent at ``start + i / rate``
  without waiting for earlier answers (an open loop, up to ``connections`` requests in flight).
- ``closed_loop``: ``connections`` callers, each posting again as soon as its answer arrived, for a
  fixed time: the highest rate one server sustains.
"""

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Endpoint:
    """Where and what a producer posts for one event, and the time the event carries."""

    base_url: str
    path: Callable[[str], str]  # analysis id -> path
    body: Callable[[], dict[str, Any] | None]
    event_time: Callable[[dict[str, Any]], float]  # the answer -> the event's time (epoch seconds)
    headers: dict[str, str] = field(default_factory=dict)

    def url(self, analysis_id: str) -> str:
        return self.base_url + self.path(analysis_id)


def transition_endpoint(base_url: str, token: str) -> Endpoint:
    """Our transition API, as a worker calls it."""
    return Endpoint(
        base_url=base_url,
        path=lambda analysis_id: f"/api/analyses/{analysis_id}/transition/",
        body=lambda: {"message": f"t={time.time():.6f}", "transition_id": uuid.uuid4().hex},
        event_time=lambda answer: (
            datetime.strptime(answer["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        ),
        headers={"Authorization": f"Bearer {token}"},
    )


def publish_endpoint(base_url: str) -> Endpoint:
    """The relay's publish view."""
    return Endpoint(
        base_url=base_url,
        path=lambda analysis_id: f"/publish/{analysis_id}",
        body=lambda: None,
        event_time=lambda answer: answer["sent_at"],
    )


def open_session(connections: int) -> aiohttp.ClientSession:
    """A session that keeps at most ``connections`` HTTP/1.1 connections to the server alive."""
    connector = aiohttp.TCPConnector(limit=connections, force_close=False, keepalive_timeout=600)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


def percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


@dataclass
class Tally:
    """Answers of a series of posts: the events committed, the failures by reason, the call times."""

    events: list[list] = field(default_factory=list)  # [analysis index, seq, event time]
    failures: dict[str, int] = field(default_factory=dict)
    call_ms: list[float] = field(default_factory=list)

    async def post(self, session: aiohttp.ClientSession, endpoint: Endpoint, analyses: list[str], index: int) -> None:
        started = time.monotonic()
        try:
            async with session.post(endpoint.url(analyses[index]), json=endpoint.body(), headers=endpoint.headers) as r:
                answer = await r.json() if r.status < 300 else None
                reason = None if answer is not None else f"HTTP {r.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            answer, reason = None, type(error).__name__
        if reason is not None:
            self.failures[reason] = self.failures.get(reason, 0) + 1
            return
        self.call_ms.append(1000 * (time.monotonic() - started))
        self.events.append([index, answer["seq"], endpoint.event_time(answer)])

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.call_ms)
        return {
            "failures": self.failures,
            "mean_call_ms": round(sum(ordered) / len(ordered), 3) if ordered else None,
            "call_p50_ms": percentile(ordered, 0.50),
            "call_p99_ms": percentile(ordered, 0.99),
        }


async def paced(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    analyses: list[str],
    rate: float,
    duration: float,
    max_seconds: float,
) -> dict[str, Any]:
    """Events at ``rate`` for ``duration``; a post waits only for a free connection, not for earlier answers."""
    total = max(1, round(rate * duration))
    tally = Tally()
    posts = []
    cpu = time.process_time()
    started = time.monotonic()
    for number in range(total):
        wait = started + number / rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if time.monotonic() - started > max_seconds:
            break
        posts.append(asyncio.create_task(tally.post(session, endpoint, analyses, number % len(analyses))))
    await asyncio.gather(*posts)
    return {
        "events": tally.events,
        "asked": total,
        "seconds": time.monotonic() - started,
        "cpu_seconds": time.process_time() - cpu,
        **tally.summary(),
    }


async def closed_loop(
    session: aiohttp.ClientSession, endpoint: Endpoint, analyses: list[str], connections: int, seconds: float
) -> dict[str, Any]:
    """``connections`` callers posting back to back for ``seconds``; caller i posts to analysis i mod A."""
    tally = Tally()
    deadline = time.monotonic() + seconds

    async def caller(number: int) -> None:
        while time.monotonic() < deadline:
            await tally.post(session, endpoint, analyses, number % len(analyses))

    cpu = time.process_time()
    started = time.monotonic()
    await asyncio.gather(*(caller(number) for number in range(connections)))
    elapsed = time.monotonic() - started
    return {
        "connections": connections,
        "committed": len(tally.events),
        "seconds": round(elapsed, 3),
        "per_second": round(len(tally.events) / elapsed, 1),
        "producer_cpu": round((time.process_time() - cpu) / elapsed, 3),
        **tally.summary(),
    }


async def probe(session: aiohttp.ClientSession, endpoint: Endpoint, analyses: list[str]) -> dict[str, Any]:
    """One event per analysis."""
    tally = Tally()
    await asyncio.gather(*(tally.post(session, endpoint, analyses, index) for index in range(len(analyses))))
    return {"events": tally.events, "failures": tally.failures}
