"""`replay graph` events/s over >= 100k follow events vs a bare consumer reading the same topics.

Both read the same topics from offset 0 to the end on the same stack (Tansu on SeaweedFS S3, as
`make up` runs it); the bare consumer only counts messages. Run: make bench-replay_graph
(`python -m bench.bench_replay_graph memory` runs it on Tansu's in-memory storage).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.harness import isolated_stack, report
from infra.kafka import KafkaEventLog, partitions_of
from infra.settings import Settings
from photofeed.replay_cli import replay_group
from projections.groups import Group
from replay.rebuild import topics_for
from schemas import events as ev
from schemas.codec import default_codec
from schemas.ids import SnowflakeGenerator

USERS = 5_000
FOLLOWS = 100_000
GOAL = 0.25  # replay decodes, runs handlers and two version-guarded Lua writes per follow


def load(settings: Settings) -> int:
    ids = SnowflakeGenerator(7)
    log = KafkaEventLog(settings.bootstrap, default_codec())
    now = datetime.now(tz=UTC)
    users = [ids.next_id() for _ in range(USERS)]
    for uid in users:
        log.append_nowait(
            ev.UserRegistered(event_id=ids.next_id(), occurred_at=now, actor_id=uid,
                              username=f"u{uid}")
        )  # fmt: skip
    rng = random.Random(1)
    for i in range(FOLLOWS):
        a, b = rng.sample(users, 2)
        kind = ev.UserUnfollowed if i % 10 == 9 else ev.UserFollowed
        log.append_nowait(kind(event_id=ids.next_id(), occurred_at=now, actor_id=a, followee_id=b))
    log.flush(120)
    log.close()
    return USERS + FOLLOWS


def bare_consume(settings: Settings, topics: list[str], expected: int) -> float:
    """Messages/s of a plain confluent-kafka consumer reading the topics from the start."""
    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap, "group.id": uuid.uuid4().hex,
         "enable.auto.commit": False, "fetch.wait.max.ms": 50}
    )  # fmt: skip
    parts = partitions_of(settings.bootstrap, topics)
    consumer.assign(
        [TopicPartition(t, p, OFFSET_BEGINNING) for t, n in parts.items() for p in range(n)]
    )
    started, seen = time.perf_counter(), 0
    deadline = started + 300
    while seen < expected and time.perf_counter() < deadline:
        seen += sum(1 for m in consumer.consume(2000, 1.0) if m.error() is None)
    elapsed = time.perf_counter() - started
    consumer.close()
    if seen < expected:
        raise RuntimeError(f"bare consumer saw {seen} of {expected}")
    return seen / elapsed


def main() -> None:
    with isolated_stack(sys.argv[1] if len(sys.argv) > 1 else "s3") as settings:
        t = time.perf_counter()
        total = load(settings)
        print(f"loaded {total} events in {time.perf_counter() - t:.1f} s", flush=True)
        topics = topics_for(Group.GRAPH)
        bare_consume(settings, topics, total)  # warm-up: broker caches, S3 reads
        baseline = bare_consume(settings, topics, total)
        result = asyncio.run(replay_group(settings, Group.GRAPH))
        assert result.events == total, result
        report(
            "replay_graph_events_per_s", result.events_per_s, baseline, GOAL, "events/s",
            better="higher",            events=result.events, rebuild_s=result.seconds,
        )  # fmt: skip


if __name__ == "__main__":
    main()
