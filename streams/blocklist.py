"""The perceptual-hash blocklist moderators keep (`photofeed blocklist ...`), read by the agent."""

from __future__ import annotations

from redis.asyncio import Redis

from projections.backends.redis_batch import text
from streams.keys import BlocklistKeys


class RedisBlocklist:
    """Read on every upload (one round trip next to ~100 ms of image work), so an entry applies
    to the very next upload."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def entries(self) -> dict[int, str]:
        raw = await self._r.hgetall(BlocklistKeys.ENTRIES)
        return {int(k): text(v) for k, v in raw.items()}

    async def add(self, phash: int, note: str) -> bool:
        return bool(await self._r.hset(BlocklistKeys.ENTRIES, str(phash), note))

    async def remove(self, phash: int) -> bool:
        return bool(await self._r.hdel(BlocklistKeys.ENTRIES, str(phash)))
