"""A follow storm on an isolated worker group: what the worker interruption tests (SIGKILL,
SIGTERM) run a worker through and then check for exact convergence."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.versions.redis import RedisVersions
from tests.integration.helpers import followed, registered, unfollowed

FANS = 6000  # enough follows that a stop lands mid-stream on this machine


@dataclass(frozen=True)
class Storm:
    settings: Settings  # an isolated group projecting into its own Redis database
    star: int
    expected: set[int]  # the star's followers once every follow and unfollow is applied
    graph: RedisGraph

    async def follower_count(self) -> int:
        return (await self.graph.counts([self.star]))[self.star].followers

    async def followers(self) -> set[int]:
        return {e.user_id for e in (await self.graph.followers(self.star, FANS, None)).items}

    async def exactly_expected(self) -> bool:
        """Every expected follower and no other, on one page (nothing lost, nothing twice)."""
        page = await self.graph.followers(self.star, FANS, None)
        return {e.user_id for e in page.items} == self.expected and page.next is None


@asynccontextmanager
async def follow_storm(
    settings: Settings, event_log: KafkaEventLog, name: str, redis_db: int
) -> AsyncIterator[Storm]:
    """FANS follows of a new star, a third of them undone, appended before any worker of the
    isolated group `name-…` runs; its Redis database is flushed afterwards."""
    isolated = settings.with_(
        worker_group=f"{name}-{uuid.uuid4().hex[:8]}",
        worker_appends=False,  # projections only: the session worker owns the media agent
        redis_db=redis_db,
        worker_port=0,
    )
    star = registered(f"star{uuid.uuid4().hex[:8]}")
    await event_log.append(star)
    fans = [random.getrandbits(50) + 1 for _ in range(FANS)]
    leavers = set(random.sample(fans, FANS // 3))
    for fan in fans:
        event_log.append_nowait(followed(fan, star.actor_id))
    for fan in leavers:
        event_log.append_nowait(unfollowed(fan, star.actor_id))
    event_log.flush()
    redis = Redis.from_url(isolated.redis)
    graph = RedisGraph(redis, await RedisVersions(redis).active(Group.GRAPH))
    try:
        yield Storm(isolated, star.actor_id, set(fans) - leavers, graph)
    finally:
        await redis.flushdb()
        await redis.aclose()
