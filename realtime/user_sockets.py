"""How many sockets each user holds over the whole service (docs/protocol.md §5 "Too many sockets").

One sorted set per user in Redis holds the connection ids of the user's authenticated sockets,
scored with the time their process last vouched for them. Each process vouches for its live
sockets with every stats report, so the sockets of a process that died age out after
``WS_STATS_TTL`` seconds, and a count first forgets the aged ones. Without Redis the cap is not
enforced (and that is logged): refusing every socket would be worse than a missing limit.
"""

import logging
import time
from collections.abc import Iterable

import redis
from django.conf import settings

from secureai.redis_clients import async_redis_client

logger = logging.getLogger(__name__)


class UserSockets:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._client = None

    def _key(self, user_id: object) -> str:
        return f"{self.prefix}:user-sockets:{user_id}"

    def _redis(self):
        if self._client is None:
            self._client = async_redis_client()
        return self._client

    async def claim(self, user_id: object, connection_id: str) -> bool:
        """Count one more socket of ``user_id``; false (and nothing counted) past the cap."""
        if settings.CHANNEL_LAYER_BACKEND != "redis":
            return True
        key, now, ttl = self._key(user_id), time.time(), settings.REALTIME["STATS_TTL"]
        try:
            async with self._redis().pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, "-inf", now - ttl)
                pipe.zadd(key, {connection_id: now})
                pipe.zcard(key)
                pipe.expire(key, ttl)
                *_, held, _ = await pipe.execute()
            if held <= settings.REALTIME["MAX_CONNECTIONS_PER_USER"]:
                return True
            await self._redis().zrem(key, connection_id)
        except redis.RedisError:
            logger.warning("Could not count the sockets of user %s; letting this one through", user_id, exc_info=True)
            return True
        return False

    async def release(self, user_id: object, connection_id: str) -> None:
        if settings.CHANNEL_LAYER_BACKEND != "redis":
            return
        try:
            await self._redis().zrem(self._key(user_id), connection_id)
        except redis.RedisError:
            logger.debug("Could not uncount a closed socket; it ages out", exc_info=True)

    async def vouch(self, held: Iterable[tuple[object, str]]) -> None:
        """This process still holds these (user id, connection id) sockets."""
        if settings.CHANNEL_LAYER_BACKEND != "redis":
            return
        now, ttl = time.time(), settings.REALTIME["STATS_TTL"]
        try:
            async with self._redis().pipeline(transaction=False) as pipe:
                for user_id, connection_id in held:
                    pipe.zadd(self._key(user_id), {connection_id: now}, xx=True)
                    pipe.expire(self._key(user_id), ttl)
                await pipe.execute()
        except redis.RedisError:
            logger.warning("Could not vouch for this process's sockets", exc_info=True)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
