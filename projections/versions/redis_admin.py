"""Whole-version operations on Redis projections: compare two versions, drop a retired one."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from redis.asyncio import Redis

SCAN_COUNT = 1000  # keys per SCAN step; bounds the server time of each call


class RedisVersionAdmin:
    """Versions of one projection group, told apart by `prefix_of(version)`."""

    def __init__(
        self,
        redis: Redis,
        prefix_of: Callable[[int], str],
        unverified_suffixes: tuple[str, ...] = (),
    ) -> None:
        """Keys ending in `unverified_suffixes` are caches whose exact content depends on timing
        (home feeds): `diff` skips them; they are still rebuilt and dropped."""
        self._r = redis
        self._prefix_of = prefix_of
        self._skip = unverified_suffixes

    async def digests(self, version: int) -> dict[str, str]:
        """key (without the version prefix) -> digest of its canonical content."""
        prefix = self._prefix_of(version)
        keys = [
            k
            async for k in self._r.scan_iter(match=f"{prefix}:*", count=SCAN_COUNT)
            if not (self._skip and _text(k).endswith(self._skip))
        ]
        out: dict[str, str] = {}
        for start in range(0, len(keys), SCAN_COUNT):
            chunk = keys[start : start + SCAN_COUNT]
            async with self._r.pipeline(transaction=False) as pipe:
                for key in chunk:
                    pipe.type(key)
                types = await pipe.execute()
            async with self._r.pipeline(transaction=False) as pipe:
                for key, kind in zip(chunk, types, strict=True):
                    _queue_read(pipe, key, kind)
                values = await pipe.execute()
            for key, value in zip(chunk, values, strict=True):
                name = key.decode() if isinstance(key, bytes) else key
                out[name.removeprefix(prefix)] = _digest(value)
        return out

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]:
        """How many keys differ between versions a and b, and up to `limit` of them."""
        da, db = await self.digests(a), await self.digests(b)
        differing = sorted(k for k in da.keys() | db.keys() if da.get(k) != db.get(k))
        return len(differing), differing[:limit]

    async def activate(self, version: int) -> None:
        """Nothing to do: readers follow the active-version pointer."""

    async def drop(self, version: int) -> int:
        """Unlink every key of `version`; return how many."""
        dropped = 0
        batch: list[bytes] = []
        async for key in self._r.scan_iter(match=f"{self._prefix_of(version)}:*", count=SCAN_COUNT):
            batch.append(key)
            if len(batch) >= SCAN_COUNT:
                dropped += await self._r.unlink(*batch)
                batch.clear()
        if batch:
            dropped += await self._r.unlink(*batch)
        return dropped


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


def _queue_read(pipe: object, key: bytes, kind: bytes) -> None:
    t = kind.decode() if isinstance(kind, bytes) else str(kind)
    if t == "hash":
        pipe.hgetall(key)  # type: ignore[attr-defined]
    elif t == "zset":
        pipe.zrange(key, 0, -1, withscores=True)  # type: ignore[attr-defined]
    elif t == "set":
        pipe.smembers(key)  # type: ignore[attr-defined]
    elif t == "list":
        pipe.lrange(key, 0, -1)  # type: ignore[attr-defined]
    else:
        pipe.dump(key)  # type: ignore[attr-defined]


def _digest(value: object) -> str:
    if isinstance(value, dict):
        value = sorted(value.items())
    elif isinstance(value, set):
        value = sorted(value)
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()
