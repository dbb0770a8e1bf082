"""The positions an append reports are where its events are in the log (Tansu's delivery
reports, batched by the producer), and the worker records each group's applied offsets past
them: the two halves read-your-writes stands on."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.positions import LogPosition
from infra.processes import ManagedProcess
from infra.settings import Settings
from infra.topics import FOLLOWS, POSTS, USERS
from projections.backends.positions import RedisAppliedOffsets
from replay.reader import read_to_end
from tests.fixtures import eventually, unique
from tests.integration.helpers import IDS, followed, published, registered

pytestmark = pytest.mark.stack


async def test_append_returns_where_each_event_is_stored(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    author = registered(unique("pos"))
    events = [
        author,
        *(followed(IDS.next_id(), author.actor_id) for _ in range(20)),  # one producer batch
        published(str(author.actor_id), "where am I"),
    ]
    positions = await event_log.append(*events)
    assert len(positions) == len(events)
    assert [p.topic for p in positions] == [USERS.name, *[FOLLOWS.name] * 20, POSTS.name]

    topics = [USERS.name, FOLLOWS.name, POSTS.name]
    logged = await asyncio.to_thread(lambda: list(read_to_end(settings.bootstrap, topics)))
    where = {
        m.event.event_id: LogPosition(m.topic, m.partition, m.offset)
        for m in logged
        if m.event is not None
    }
    assert [where.get(e.event_id) for e in events] == positions


async def test_the_worker_records_what_each_group_applied(
    redis: Redis, event_log: KafkaEventLog, worker: ManagedProcess
) -> None:
    [position] = await event_log.append(followed(IDS.next_id(), IDS.next_id()))
    tp = (position.topic, position.partition)
    applied = RedisAppliedOffsets(redis)

    async def offsets() -> dict[str, dict[tuple[str, int], int]]:
        return await applied.applied({g: [tp] for g in ("graph", "feeds", "engagement")})

    seen = await eventually(offsets, lambda a: all(v[tp] > position.offset for v in a.values()))
    assert all(v[tp] > position.offset for v in seen.values())  # next offset: past the event
    await applied.record(["graph"], {tp: 1})  # an older batch again: offsets never go back
    assert (await offsets())["graph"][tp] == seen["graph"][tp]
