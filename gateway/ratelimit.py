"""A sliding-window rate limit in Redis: at most `limit` actions per `window_s` per subject."""

from __future__ import annotations

import math
import time
import uuid

from redis.asyncio import Redis

# KEYS[1] zset of action times (ms); ARGV: now ms, window ms, limit, a unique member
# Returns 0 when allowed (and records the action), else the ms until a slot frees up.
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RateLimiter:
    def __init__(self, redis: Redis, name: str, limit: int, window_s: float) -> None:
        self._script = redis.register_script(_SLIDING_WINDOW)
        self._name = name
        self.limit = limit
        self._window_ms = int(window_s * 1000)

    async def acquire(self, subject: int) -> int:
        """0 when the action may go ahead (it is counted); else seconds to wait (Retry-After)."""
        now = time.time_ns() // 1_000_000
        wait_ms = await self._script(
            [f"ratelimit:{self._name}:{{{subject}}}"],
            [now, self._window_ms, self.limit, uuid.uuid4().hex],
        )
        return math.ceil(int(wait_ms) / 1000)
