"""Per-user data keys, kept outside the log (here in Valkey; a KMS in production).

A user's key seals their personal data in events (schemas/sealing.py). Erasure destroys the key
and records the user as erased, so every copy of their personal data becomes unreadable and every
consumer drops their events. Note for operators: Valkey snapshots taken before an erasure still
hold the key; rotate them out within the erasure deadline.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from schemas.sealing import new_key

KEYS = "{datakeys}:keys"  # hash user id -> 32-byte key
ERASED = "{datakeys}:erased"  # set of erased user ids (pseudonymous ids only)

# The key of a user, created on first use; nothing for an erased user. KEYS: keys, erased.
_KEY_FOR = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return false end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])
"""


class ErasedUser(LookupError):
    """The user was erased: nothing may be sealed for them any more."""


class RedisKeyStore:
    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._key_for = redis.register_script(_KEY_FOR)

    async def key_for(self, user_id: int) -> bytes:
        """The user's key, created on first use; ErasedUser once they were erased."""
        key = await self._key_for([KEYS, ERASED], [user_id, new_key()])
        if key is None:
            raise ErasedUser(user_id)
        return _raw(key)

    async def keys(self, user_ids: Iterable[int]) -> dict[int, bytes]:
        """The keys that exist, in one round trip."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        found = await self._r.hmget(KEYS, [str(u) for u in ids])
        return {u: _raw(k) for u, k in zip(ids, found, strict=True) if k is not None}

    async def erased(self, user_ids: Iterable[int]) -> set[int]:
        ids = sorted(set(user_ids))
        if not ids:
            return set()
        flags = await self._r.smismember(ERASED, [str(u) for u in ids])
        return {u for u, f in zip(ids, flags, strict=True) if f}

    async def erase(self, user_id: int) -> None:
        """Record the erasure and destroy the key, atomically. Idempotent."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.sadd(ERASED, user_id)
            pipe.hdel(KEYS, str(user_id))
            await pipe.execute()


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")
