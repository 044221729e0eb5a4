"""A real channels-redis layer that loses a share of group messages, as a full channel would."""

import random

from channels_redis.core import RedisChannelLayer


class LossyRedisChannelLayer(RedisChannelLayer):
    """Drops each group_send with probability ``loss`` (seeded, so a run is reproducible)."""

    def __init__(self, *args, loss: float = 0.3, seed: int = 7, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss = loss
        self.random = random.Random(seed)
        self.dropped = 0

    async def group_send(self, group, message):
        if self.random.random() < self.loss:
            self.dropped += 1
            return
        await super().group_send(group, message)
