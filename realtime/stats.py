"""Counters of one server process, reported through Redis with a time-to-live and summed on read.

Each process writes its counters under its own key every few seconds; a process that dies stops
writing and drops out when its key expires.
"""

import atexit
import json
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

from analyses.payloads import iso_utc
from secureai.redis_clients import async_redis_client, redis_client

from . import metrics
from .wire import Frame

logger = logging.getLogger(__name__)


def _key_prefix() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:realtime-stats"


class ProcessStats:
    """The counters of one server process: the one place the read path counts what it does.

    Sockets and the hub report through the methods, which keep the totals of ``/ws/stats`` and
    feed the Prometheus metrics of ``realtime.metrics``. How many sockets, users and
    subscriptions there are is not counted here but read from the sockets themselves when a
    report or a scrape asks (``Hub.report``), so it can never drift.
    """

    def __init__(self) -> None:
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.started_at = iso_utc(datetime.now(UTC))
        self._sent = 0
        self._received = 0
        self._errors = 0

    def sent(self, frame: Frame, count: int = 1) -> None:
        """``frame`` was written to ``count`` sockets (at once: one latency sample for them all)."""
        if not count:
            return
        self._sent += count
        metrics.WS_MESSAGES_SENT.labels(type=frame.kind).inc(count)
        if frame.committed_at is not None:
            metrics.DELIVERY_LATENCY.observe(max(0.0, time.time() - frame.committed_at))

    def received(self, kind: str) -> None:
        """A socket sent a message of type ``kind`` (``invalid`` when it did not parse)."""
        self._received += 1
        metrics.WS_MESSAGES_RECEIVED.labels(type=kind).inc()

    def error(self, code: str) -> None:
        """A socket was answered with an ``error`` of ``code``."""
        self._errors += 1

    @staticmethod
    def closed(code: int | None) -> None:
        """A socket closed, with ``code`` (whoever closed it)."""
        metrics.WS_CLOSES.labels(code=metrics.close_code_label(code)).inc()

    @staticmethod
    def gap_filled(events: int) -> None:
        """A stream filled a gap of ``events`` events from history."""
        metrics.GAP_FILLS.inc()

    @staticmethod
    def replayed(events: int) -> None:
        """A subscribe replayed ``events`` events after its ``since_seq``."""
        metrics.REPLAYED_EVENTS.inc(events)

    def report(self, *, connections: int, authenticated: int, subscriptions: int, analyses: set[str]) -> dict[str, Any]:
        """What this process writes to Redis for ``/ws/stats``."""
        return {
            "id": self.id,
            "connections": connections,
            "authenticated": authenticated,
            "subscriptions": subscriptions,
            "messages_sent": self._sent,
            "messages_received": self._received,
            "errors": self._errors,
            "started_at": self.started_at,
            "analyses": sorted(analyses),
            "updated_at": iso_utc(datetime.now(UTC)),
        }


class StatsReporter:
    """Writes one process's report to Redis; failures are logged and retried at the next interval.

    Beside the report it keeps a marker without expiry, set by the first report. A Redis that
    restarted or was emptied has lost the marker and, with it, every group this process had
    joined: ``publish`` then says so, and the hub joins its groups again.
    """

    def __init__(self, process_id: str) -> None:
        self.process_id = process_id
        self._client: aioredis.Redis | None = None
        self._marked = False
        # Monotonic time of the first failed report in a row; None while reports go through.
        self.unreachable_since: float | None = None

    @property
    def _report_key(self) -> str:
        return f"{_key_prefix()}:{self.process_id}"

    @property
    def _marker_key(self) -> str:
        return f"{_key_prefix()}-alive:{self.process_id}"

    async def publish(self, report: dict[str, Any]) -> bool:
        """Write ``report``; true when Redis had forgotten this process since the last report."""
        if settings.CHANNEL_LAYER_BACKEND != "redis":
            return False
        if self._client is None:
            self._client = async_redis_client()
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.set(self._report_key, json.dumps(report), ex=settings.REALTIME["STATS_TTL"])
                pipe.set(self._marker_key, "1", nx=True)
                _, marker_was_missing = await pipe.execute()
        except redis.RedisError:
            logger.warning("Could not report realtime stats to Redis", exc_info=True)
            if self.unreachable_since is None:
                self.unreachable_since = time.monotonic()
            return False
        self.unreachable_since = None
        forgotten = bool(marker_was_missing) and self._marked
        self._marked = True
        return forgotten

    def withdraw_at_exit(self) -> None:
        """Remove this process's keys when it exits cleanly, instead of waiting for the TTL."""

        def withdraw() -> None:
            if settings.CHANNEL_LAYER_BACKEND != "redis":
                return
            try:
                client = redis_client()
                client.delete(self._report_key, self._marker_key)
                client.close()
            except redis.RedisError:
                pass

        atexit.register(withdraw)

    async def withdraw(self) -> None:
        if self._client is not None:
            try:
                await self._client.delete(self._report_key, self._marker_key)
                await self._client.aclose()
            except redis.RedisError:
                pass
            self._client = None


def process_reports() -> list[dict[str, Any]]:
    """The live reports of every server process sharing the channel layer."""
    client = redis_client()
    try:
        keys = sorted(client.scan_iter(match=f"{_key_prefix()}:*", count=500))
        values = client.mget(keys) if keys else []
    finally:
        client.close()
    return [json.loads(value) for value in values if value is not None]


def summarize(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The /ws/stats body: totals over every process, then each process."""
    analyses: set[str] = set()
    for report in reports:
        analyses.update(report.get("analyses", ()))
    return {
        "connections": {
            "total": sum(r["connections"] for r in reports),
            "authenticated": sum(r["authenticated"] for r in reports),
        },
        "subscriptions": {"total": sum(r["subscriptions"] for r in reports), "analyses": len(analyses)},
        "messages": {
            "sent": sum(r["messages_sent"] for r in reports),
            "received": sum(r["messages_received"] for r in reports),
        },
        "errors": sum(r["errors"] for r in reports),
        "processes": [
            {
                key: r[key]
                for key in (
                    "id",
                    "connections",
                    "subscriptions",
                    "messages_sent",
                    "messages_received",
                    "errors",
                    "started_at",
                    "updated_at",
                )
            }
            for r in reports
        ],
    }
