"""Workers scale out in the one consumer group: during a steady burst of follows and
unfollows, a second worker joins and takes a share of the partitions, then the first is
SIGKILLed mid-stream and the survivor takes its partitions over from the committed offsets.
Afterwards every event is applied exactly once: the star's followers are exactly the fans who
did not leave, and each fan follows exactly what it should (nothing lost, nothing doubled,
no unfollow undone by a redelivered follow)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.processes import ManagedProcess
from infra.readiness import WorkerKeys
from infra.settings import Settings
from infra.topics import FOLLOWS
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.versions.redis import RedisVersions
from tests.fixtures import app_process, await_worker_ready, eventually
from tests.integration.helpers import followed, registered, unfollowed

pytestmark = pytest.mark.stack

FOLLOWS_AGENT = f"project_{FOLLOWS.name.replace('.', '_')}"
ROUND_S = 0.05  # the burst's schedule: one round of follows every 50 ms
ROUND_FOLLOWS = 15  # ~300 follows/s (+ 100 unfollows/s): far below one worker's capacity,
ROUND_LEAVERS = 5  # so the projection trails the burst by a batch, not by a backlog
AFTER_KILL_ROUNDS = 80  # ~4 s of the burst after the kill: events arrive while the killed
# worker's partitions wait for the group to notice (session timeout 6 s)


@dataclass
class Burst:
    """Follows of one star (and unfollows of a third of the fans) appended on a fixed
    schedule until stopped; `expected` is the star's followers once all are applied."""

    event_log: KafkaEventLog
    star: int
    fans: list[int] = field(default_factory=list)
    leavers: set[int] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def expected(self) -> set[int]:
        return set(self.fans) - self.leavers

    async def appended(self) -> int:
        return len(self.fans)

    async def run(self) -> None:
        started, rounds = time.monotonic(), 0
        previous: list[int] = []
        while not self.stop.is_set():
            new = [random.getrandbits(50) + 1 for _ in range(ROUND_FOLLOWS)]
            for fan in new:
                self.event_log.append_nowait(followed(fan, self.star))
            leaving = random.sample(previous, min(ROUND_LEAVERS, len(previous)))
            for fan in leaving:  # the same fan's follow is earlier in its partition
                self.event_log.append_nowait(unfollowed(fan, self.star))
            await asyncio.to_thread(self.event_log.flush)
            self.fans += new
            self.leavers |= set(leaving)
            previous, rounds = new, rounds + 1
            # a fixed schedule (not a wait for a condition): the burst's pace
            await asyncio.sleep(max(0.0, started + rounds * ROUND_S - time.monotonic()))


@contextlib.asynccontextmanager
async def burst(event_log: KafkaEventLog) -> AsyncIterator[Burst]:
    star = registered(f"star{uuid.uuid4().hex[:8]}")
    await event_log.append(star)
    b = Burst(event_log, star.actor_id)
    task = asyncio.create_task(b.run())
    try:
        yield b
    finally:
        b.stop.set()
        await task


async def follows_progress(redis: Redis, worker: ManagedProcess) -> tuple[int, set[int]]:
    """(follow events applied, partitions read) by `worker`'s follows agent, from the health
    snapshot it publishes every 2 s."""
    pid = worker.pid()
    raw = await redis.get(WorkerKeys.health(pid)) if pid else None
    agent = orjson.loads(raw)["agents"].get(FOLLOWS_AGENT) if raw else None
    if agent is None:
        return 0, set()
    return agent["processed"], {p["partition"] for p in agent["partitions"]}


async def test_a_joining_worker_shares_partitions_and_a_killed_one_loses_nothing(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    group = settings.with_(
        worker_group=f"scale-{uuid.uuid4().hex[:8]}", worker_appends=False, redis_db=9,
        worker_port=0,
    )  # fmt: skip
    redis = Redis.from_url(group.redis)
    graph = RedisGraph(redis, await RedisVersions(redis).active(Group.GRAPH))
    first, second = (app_process(group, f"scale-worker-{n}", "worker") for n in (1, 2))
    try:
        async with burst(event_log) as b:

            async def followers() -> set[int]:
                page = await graph.followers(b.star, 10**6, None)
                return {e.user_id for e in page.items}

            first.start()
            await asyncio.to_thread(await_worker_ready, group, first)
            await eventually(followers, bool, timeout_s=60)
            second.start()
            await asyncio.to_thread(await_worker_ready, group, second)
            shared = await eventually(
                lambda: follows_progress(redis, second), lambda p: p[0] > 0, timeout_s=60
            )
            assert shared[1] < set(range(settings.topic_partitions)), "a share, not all"
            first.kill()  # SIGKILL: no shutdown hooks, no final commit
            after = len(b.fans) + AFTER_KILL_ROUNDS * ROUND_FOLLOWS
            await eventually(lambda: b.appended(), lambda n: n >= after, timeout_s=30)
        took_over = await eventually(
            lambda: follows_progress(redis, second),
            lambda p: p[1] == set(range(settings.topic_partitions)),
            timeout_s=60,
        )
        assert took_over[1] > shared[1], "the survivor reads the killed worker's partitions"
        expected = b.expected
        got = await eventually(followers, lambda f: f == expected, timeout_s=90)
        assert len(got) == len(b.fans) - len(b.leavers) > 1000
        counts = await graph.counts([b.star, *b.fans])
        assert counts[b.star].followers == len(expected)
        wrong = [f for f in b.fans if counts[f].following != (f in expected)]
        assert wrong == [], f"{len(wrong)} fans follow the star the wrong number of times"
    finally:
        second.stop()
        first.stop()
        await redis.flushdb()
        await redis.aclose()
