"""The service's Redis connections in one place: the channel layer's host entry, and the clients the
app uses for its own keys (realtime stats, readiness), through Sentinel when it is configured.

Every timeout below is chosen, never left to redis-py's defaults: redis-py 8 gives each connection
a 5 s socket timeout, which kills the channel layer's idle blocking reads, and a pool of 100
connections, too few for a burst of handshakes.
"""

from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel, SentinelConnectionPool

# A Redis (or a Sentinel) that has not accepted a connection within this is down; failing fast lets
# the caller retry or report not-ready instead of hanging a request.
CONNECT_TIMEOUT = 2.0

# channels-redis waits in BZPOPMIN for up to 5 s on every receive, so a socket timeout at or under
# that closes idle consumers. Three times that never fires on a healthy Redis, and still ends a read
# from one that accepted the connection but stopped answering (stopped, partitioned).
CHANNEL_LAYER_SOCKET_TIMEOUT = 15.0

# The app's own commands (a SET, a SCAN, a PING) answer in milliseconds; a read that takes longer
# than this means Redis is in trouble, and the caller should give up and report it.
COMMAND_SOCKET_TIMEOUT = 5.0

# A pooled connection idle this long is PINGed before reuse, so a connection to a Redis that went
# away (restarted, failed over) is replaced instead of failing the command that picked it up.
HEALTH_CHECK_INTERVAL = 10

# Per server process and per client: every socket handshake joins groups (the channel layer) and
# counts its user's sockets (the app's client) through a pool, and a burst of 200+ concurrent
# handshakes must not meet "Too many connections" (redis-py fails at the limit, it does not wait).
MAX_CONNECTIONS = 2000

# Connections to the Sentinels themselves (asking where the primary is): short, so one Sentinel
# that hangs costs little before the next one is asked.
SENTINEL_KWARGS = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": 2.0}

_COMMON = {"socket_connect_timeout": CONNECT_TIMEOUT, "health_check_interval": HEALTH_CHECK_INTERVAL}
CHANNEL_LAYER_OPTIONS = {**_COMMON, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT, "max_connections": MAX_CONNECTIONS}
CLIENT_OPTIONS = {**_COMMON, "socket_timeout": COMMAND_SOCKET_TIMEOUT, "max_connections": MAX_CONNECTIONS}


def parse_sentinels(entries: Sequence[str]) -> list[tuple[str, int]]:
    """``["host:port", ...]`` (the REDIS_SENTINELS setting, split on commas) as (host, port) pairs."""
    sentinels = []
    for entry in entries:
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(f"REDIS_SENTINELS entries must be host:port, not {entry!r}")
        sentinels.append((host.strip("[]"), int(port)))
    return sentinels


def check_sentinel_settings(sentinels: Sequence[tuple[str, int]], master: str) -> None:
    """Sentinel needs both the Sentinels and the primary's name; one without the other is a mistake."""
    if bool(sentinels) != bool(master):
        raise ImproperlyConfigured("REDIS_SENTINELS and REDIS_SENTINEL_MASTER must be set together.")


def channel_layer_host(*, redis_url: str, sentinels: Sequence[tuple[str, int]], master: str) -> dict[str, Any]:
    """The channels-redis ``hosts`` entry: the primary named by Sentinel when set, else ``redis_url``."""
    if sentinels:
        return {
            "sentinels": list(sentinels),
            "master_name": master,
            "sentinel_kwargs": dict(SENTINEL_KWARGS),
            **CHANNEL_LAYER_OPTIONS,
        }
    return {"address": redis_url, **CHANNEL_LAYER_OPTIONS}


def connect(*, redis_url: str, sentinels: Sequence[tuple[str, int]], master: str) -> redis.Redis:
    """A client of the current primary; through Sentinel it follows a failover by itself."""
    if sentinels:
        return Sentinel(sentinels, sentinel_kwargs=SENTINEL_KWARGS).master_for(master, **CLIENT_OPTIONS)
    return redis.Redis.from_url(redis_url, **CLIENT_OPTIONS)


def connect_async(*, redis_url: str, sentinels: Sequence[tuple[str, int]], master: str) -> aioredis.Redis:
    """The asyncio twin of :func:`connect`, bound to the event loop that first uses it."""
    if sentinels:
        return AsyncSentinel(sentinels, sentinel_kwargs=SENTINEL_KWARGS).master_for(master, **CLIENT_OPTIONS)
    return aioredis.Redis.from_url(redis_url, **CLIENT_OPTIONS)


def _configured() -> dict[str, Any]:
    return {
        "redis_url": settings.REDIS_URL,
        "sentinels": settings.REDIS_SENTINELS,
        "master": settings.REDIS_SENTINEL_MASTER,
    }


def redis_client() -> redis.Redis:
    """A client of the service's Redis, as the settings say. Close it when done (``close()``)."""
    return connect(**_configured())


def async_redis_client() -> aioredis.Redis:
    """An asyncio client of the service's Redis, as the settings say. Close it when done (``aclose()``)."""
    return connect_async(**_configured())


class SentinelCachePool(SentinelConnectionPool):
    """Django's Redis cache (the throttles' counters) on the primary that Sentinel names.

    Django builds the cache's pools with ``pool_class.from_url(LOCATION, **OPTIONS)``; this one
    takes the Sentinels and the primary's name from the settings instead of the URL, and follows a
    failover as the other clients do.
    """

    @classmethod
    def from_url(cls, url: str, **options: Any) -> "SentinelCachePool":
        sentinel = Sentinel(settings.REDIS_SENTINELS, sentinel_kwargs=SENTINEL_KWARGS)
        return cls(settings.REDIS_SENTINEL_MASTER, sentinel, **options)


def cache_options(*, sentinels: Sequence[tuple[str, int]], timeout: float) -> dict[str, Any]:
    """The cache's OPTIONS: short timeouts (a throttle lets a request through rather than wait), and
    the Sentinel pool when Sentinel is configured."""
    options: dict[str, Any] = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    if sentinels:
        options["pool_class"] = f"{__name__}.SentinelCachePool"
    return options
