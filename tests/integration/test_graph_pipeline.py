"""The graph projection fed through Tansu by the real Faust worker into Valkey."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.processes import ManagedProcess
from infra.settings import Settings
from infra.topics import DEAD_LETTER, FOLLOWS
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.versions.redis import RedisVersions
from tests.fixtures import eventually
from tests.integration.helpers import followed, registered, unfollowed

pytestmark = pytest.mark.stack


async def graph(redis: Redis) -> RedisGraph:
    return RedisGraph(redis, await RedisVersions(redis).active(Group.GRAPH))


async def test_every_event_delivered_twice_changes_nothing(
    worker: ManagedProcess, event_log: KafkaEventLog, redis: Redis
) -> None:
    users = [registered(f"dup{uuid.uuid4().hex[:8]}") for _ in range(4)]
    a, b, c, d = (u.actor_id for u in users)
    story = [
        *users,
        followed(a, b),
        followed(c, b),
        followed(a, c),
        unfollowed(c, b),
        followed(d, b),
        unfollowed(d, b),
        followed(d, b),
    ]
    await event_log.append(*story)
    await event_log.append(*story)  # at-least-once: the whole story again, in order
    await event_log.append(story[-3], story[4])  # and some old events out of order

    async def counts() -> tuple[int, int, int]:
        g = await graph(redis)
        got = await g.counts([a, b, c])
        return got[b].followers, got[a].following, got[c].followers

    assert await eventually(counts, lambda v: v == (2, 2, 1), timeout_s=10) == (2, 2, 1)
    g = await graph(redis)
    page = await g.followers(b, 10, None)
    assert {e.user_id for e in page.items} == {a, d}
    assert await g.follows(a, [b, c, d]) == {b, c}

    async def username() -> str | None:  # the users topic: no order with the follows topic
        found = (await (await graph(redis)).users([a])).get(a)
        return found.username if found else None

    assert await eventually(username, lambda n: n is not None, timeout_s=10) == users[0].username


async def test_undecodable_message_goes_to_dead_letter_and_the_agent_goes_on(
    worker: ManagedProcess, event_log: KafkaEventLog, redis: Redis, settings: Settings
) -> None:
    poison = b"\xc3\x01" + b"\x00" * 8 + b"not avro"
    producer = Producer({"bootstrap.servers": settings.bootstrap, "enable.idempotence": False})
    producer.produce(FOLLOWS.name, key=b"poison", value=poison)
    producer.produce(FOLLOWS.name, key=b"poison", value=b'{"json": true}')
    assert producer.flush(10) == 0
    x, y = registered("after_poison_x"), registered("after_poison_y")
    await event_log.append(x, y, followed(x.actor_id, y.actor_id))

    async def followers() -> int:
        return (await (await graph(redis)).counts([y.actor_id]))[y.actor_id].followers

    assert await eventually(followers, lambda n: n == 1) == 1

    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap, "group.id": uuid.uuid4().hex,
         "enable.auto.commit": False}
    )  # fmt: skip
    consumer.assign([TopicPartition(DEAD_LETTER.name, 0, 0)])
    found: list[dict[str, bytes]] = []
    for _ in range(50):
        for msg in consumer.consume(100, 0.2):
            if msg.error() is None and msg.key() == b"poison":
                headers: list[tuple[str, bytes]] = msg.headers() or []  # type: ignore[assignment]
                found.append(dict(headers))
        if len(found) >= 2:
            break
    consumer.close()
    assert len(found) == 2
    assert all(h["source_topic"] == FOLLOWS.name.encode() for h in found)
    assert any(b"unknown schema fingerprint" in h["error"] for h in found)
    assert any(b"missing C3 01" in h["error"] for h in found)
