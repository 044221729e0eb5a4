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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

from analyses.payloads import iso_utc

logger = logging.getLogger(__name__)


def _key_prefix() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:realtime-stats"


@dataclass
class ProcessStats:
    id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    connections: int = 0
    authenticated: int = 0
    subscriptions: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    errors: int = 0
    started_at: str = field(default_factory=lambda: iso_utc(datetime.now(UTC)))

    def report(self, analyses: set[str]) -> dict[str, Any]:
        return {**asdict(self), "analyses": sorted(analyses), "updated_at": iso_utc(datetime.now(UTC))}


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
