"""Redis adapter of VersionRegistry: the active/building pointers of each projection group."""

from __future__ import annotations

from redis.asyncio import Redis

from projections.groups import Group
from projections.versions.keys import ACTIVE_VERSIONS, BUILDING_VERSIONS, VERSION_SEQUENCE
from projections.versions.ports import INITIAL_VERSION


class RedisVersions:
    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def active(self, group: Group) -> int:
        raw = await self._r.hget(ACTIVE_VERSIONS, group)
        return int(raw) if raw is not None else INITIAL_VERSION

    async def targets(self, group: Group) -> list[int]:
        """Versions a live agent must write: the active one, plus the one being built if any."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hget(ACTIVE_VERSIONS, group)
            pipe.hget(BUILDING_VERSIONS, group)
            active, building = await pipe.execute()
        out = [int(active) if active is not None else INITIAL_VERSION]
        if building is not None and int(building) not in out:
            out.append(int(building))
        return out

    async def begin_build(self, group: Group) -> int:
        """Reserve a fresh version number and announce it, so live agents write it too."""
        active = await self.active(group)
        await self._r.hsetnx(VERSION_SEQUENCE, group, active)
        version = int(await self._r.hincrby(VERSION_SEQUENCE, group, 1))
        version = max(version, active + 1)
        await self._r.hset(BUILDING_VERSIONS, group, version)
        return version

    async def finish_build(self, group: Group, version: int, swap: bool) -> int | None:
        """Stop announcing `version`; when `swap`, make it active. Returns the retired version."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hget(ACTIVE_VERSIONS, group)
            pipe.hdel(BUILDING_VERSIONS, group)
            if swap:
                pipe.hset(ACTIVE_VERSIONS, group, version)
            old = (await pipe.execute())[0]
        if not swap:
            return version
        return int(old) if old is not None else INITIAL_VERSION
