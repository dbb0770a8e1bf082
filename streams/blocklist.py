"""The perceptual-hash blocklist moderators keep (`photofeed blocklist ...`), read by the agent."""

from __future__ import annotations

import time

from redis.asyncio import Redis

BLOCKLIST_KEY = "moderation:blocklist"  # hash: signed 64-bit phash -> moderator's note
CACHE_S = 5.0  # a new entry reaches every media agent within this


class RedisBlocklist:
    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._cached: tuple[float, dict[int, str]] | None = None

    async def entries(self) -> dict[int, str]:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > CACHE_S:
            raw = await self._r.hgetall(BLOCKLIST_KEY)
            self._cached = (now, {int(k): _s(v) for k, v in raw.items()})
        return self._cached[1]

    async def add(self, phash: int, note: str) -> bool:
        self._cached = None
        return bool(await self._r.hset(BLOCKLIST_KEY, str(phash), note))

    async def remove(self, phash: int) -> bool:
        self._cached = None
        return bool(await self._r.hdel(BLOCKLIST_KEY, str(phash)))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
