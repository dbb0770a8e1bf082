"""The perceptual-hash blocklist moderators keep (`photofeed blocklist ...`), read by the agent."""

from __future__ import annotations

from redis.asyncio import Redis

from projections.backends.redis_batch import text

BLOCKLIST_KEY = "moderation:blocklist"  # hash: signed 64-bit phash -> moderator's note


class RedisBlocklist:
    """Read on every upload (one round trip next to ~100 ms of image work), so an entry applies
    to the very next upload."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def entries(self) -> dict[int, str]:
        raw = await self._r.hgetall(BLOCKLIST_KEY)
        return {int(k): text(v) for k, v in raw.items()}

    async def add(self, phash: int, note: str) -> bool:
        return bool(await self._r.hset(BLOCKLIST_KEY, str(phash), note))

    async def remove(self, phash: int) -> bool:
        return bool(await self._r.hdel(BLOCKLIST_KEY, str(phash)))
