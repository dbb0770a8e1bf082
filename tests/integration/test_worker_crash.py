"""A worker killed mid-batch loses and duplicates nothing once it starts again."""

from __future__ import annotations

import random
import uuid

import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from projections.redis_graph import RedisGraph
from projections.redis_versions import RedisVersions
from tests.fixtures import app_process, eventually
from tests.integration.helpers import followed, registered, unfollowed

pytestmark = pytest.mark.stack
FANS = 6000


async def test_sigkill_mid_stream_then_restart_converges_exactly(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    # an isolated consumer group projecting into its own Redis database
    isolated = settings.with_(
        worker_group=f"crash-{uuid.uuid4().hex[:8]}",
        worker_appends=False,  # projections only: the session worker owns the media agent
        redis_db=3,
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
    expected = set(fans) - leavers

    redis = Redis.from_url(isolated.redis)
    graph = RedisGraph(redis, await RedisVersions(redis).active("graph"))

    async def follower_count() -> int:
        return (await graph.counts([star.actor_id]))[star.actor_id].followers

    proc = app_process(isolated, "crash-worker", "worker")
    proc.start()
    try:
        await eventually(follower_count, lambda n: n > 0, timeout_s=60, interval_s=0.01)
        proc.kill()  # SIGKILL: no shutdown hooks, no final commit
        partial = {e.user_id for e in (await graph.followers(star.actor_id, FANS, None)).items}
        assert partial, "the worker had started"
        assert partial != expected, "the kill must land mid-stream"
        proc.start()
        await eventually(follower_count, lambda n: n == len(expected), timeout_s=90)
        page = await graph.followers(star.actor_id, FANS, None)
        assert {e.user_id for e in page.items} == expected
        assert page.next is None
    finally:
        proc.stop()
        await redis.flushdb()
        await redis.aclose()
