"""Liveness and readiness probes for load balancers and orchestrators."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)
CHECK_TIMEOUT = 3.0


async def healthz(request) -> JsonResponse:
    """The process answers; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


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


async def readyz(request) -> JsonResponse:
    """Ready when both the database and the channel layer answer; 503 otherwise."""
    checks = {
        "database": await _check("database", sync_to_async(_database_ok)),
        "channel_layer": await _check("channel_layer", _channel_layer_ok),
    }
    ready = all(checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {k: "ok" if v else "failed" for k, v in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
