"""Counters of one server process, reported through Redis with a time-to-live and summed on read.

Each process writes its counters under its own key every few seconds; a process that dies stops
writing and drops out when its key expires.
"""

import atexit
import json
import logging
import os
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

from analyses.payloads import iso_utc

logger = logging.getLogger(__name__)


def _key_prefix() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:realtime-stats"


class ProcessStats:
    """The counters of one server process. Sockets and the hub report through the methods.

    How many sockets, users and subscriptions there are is not counted here but read from the
    sockets themselves when a report is made (``Hub.report``), so it can never drift.
    """

    def __init__(self) -> None:
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.started_at = iso_utc(datetime.now(UTC))
        self._sent = 0
        self._received = 0
        self._errors = 0

    def sent(self, kind: str, count: int = 1) -> None:
        """``count`` messages of type ``kind`` were written to sockets."""
        self._sent += count

    def received(self, kind: str) -> None:
        """A socket sent a message of type ``kind`` (``invalid`` when it did not parse)."""
        self._received += 1

    def error(self, code: str) -> None:
        """A socket was answered with an ``error`` of ``code``."""
        self._errors += 1

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
    """Writes one process's report to Redis; failures are logged and retried at the next interval."""

    def __init__(self) -> None:
        self._client: aioredis.Redis | None = None

    async def publish(self, report: dict[str, Any]) -> None:
        if settings.CHANNEL_LAYER_BACKEND != "redis":
            return
        if self._client is None:
            self._client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
        ttl = settings.REALTIME["STATS_TTL"]
        try:
            await self._client.set(f"{_key_prefix()}:{report['id']}", json.dumps(report), ex=ttl)
        except redis.RedisError:
            logger.warning("Could not report realtime stats to Redis", exc_info=True)

    def withdraw_at_exit(self, process_id: str) -> None:
        """Remove this process's report when it exits cleanly, instead of waiting for the TTL."""

        def withdraw() -> None:
            if settings.CHANNEL_LAYER_BACKEND != "redis":
                return
            try:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
                client.delete(f"{_key_prefix()}:{process_id}")
                client.close()
            except redis.RedisError:
                pass

        atexit.register(withdraw)

    async def withdraw(self, process_id: str) -> None:
        if self._client is not None:
            try:
                await self._client.delete(f"{_key_prefix()}:{process_id}")
                await self._client.aclose()
            except redis.RedisError:
                pass
            self._client = None


def process_reports() -> list[dict[str, Any]]:
    """The live reports of every server process sharing the channel layer."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
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
