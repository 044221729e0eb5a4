"""Liveness and readiness probes for load balancers and orchestrators, and the readiness gauge.

``secureai_ready`` holds the verdict of the process's latest readiness check. /readyz runs the
check, and so does every scrape of the process's metrics (a server's /metrics, a worker's
exporter), so the gauge is as fresh as the last scrape even where nothing polls /readyz.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from prometheus_client import Gauge

from .server import stopping

logger = logging.getLogger(__name__)
CHECK_TIMEOUT = 3.0

READY = Gauge(
    "secureai_ready", "1 when this process's latest readiness check reached the database and the channel layer."
)


async def healthz(request) -> JsonResponse:
    """The process answers; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    """SELECT 1 on a connection given back at once (to the pool on PostgreSQL).

    It runs outside the request threads, so that the check's timeout can answer while a dead
    database still holds the connection attempt.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        connection.close()


async def _channel_layer_ok() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel("readyz.")
    await layer.send(channel, {"type": "readyz.ping"})
    return (await layer.receive(channel)).get("type") == "readyz.ping"


async def _check(name: str, probe) -> bool:
    try:
        return bool(await asyncio.wait_for(probe(), CHECK_TIMEOUT))
    except Exception:
        logger.warning("Readiness check %s failed", name, exc_info=True)
        return False


async def check_readiness() -> dict[str, bool]:
    """Probe the database and the channel layer (at once) and record the verdict in ``READY``."""
    database, channel_layer = await asyncio.gather(
        _check("database", sync_to_async(_database_ok, thread_sensitive=False)),
        _check("channel_layer", _channel_layer_ok),
    )
    checks = {"database": database, "channel_layer": channel_layer}
    READY.set(all(checks.values()))
    return checks


async def readyz(request) -> JsonResponse:
    """Ready when both the database and the channel layer answer, and the server is not stopping."""
    if stopping():
        return JsonResponse({"status": "stopping", "checks": {}}, status=503)
    checks = await check_readiness()
    ready = all(checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {k: "ok" if v else "failed" for k, v in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
