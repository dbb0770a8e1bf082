"""`replay <group>` events/s for every projection group over one generated log, each beside a
bare confluent-kafka consume + fastavro decode loop over the same topics, in the same run.

The log (bench/replay_log.py) at SCALE of its full shape (20k users, 150k follows, 15k posts as
45k photo and post events, 700k likes and unlikes, 60k comments, 10k notification reads: ~985k
events): SCALE 0.25 (~246k events) keeps `make bench` to about two minutes on a 2-core machine;
`python -m bench.bench_replay_groups memory 1` runs the full log (about 8 minutes). Tansu keeps
it in memory: on its S3 storage engine reading is the bottleneck for both sides (measured here
after a bulk load: a bare consumer at ~0.6-1k messages/s, replay's reader at ~8k/s), so the
figure would measure the broker (`s3` as the first argument runs it there anyway).
Groups are replayed in dependency order (graph first: the feeds planner reads its follower
lists), each with `force`, so the next one sees it active. A replay's figure is its rebuild pass
(read, decode, open, plan, write: `ReplayResult.seconds`); the comparison with the live version
that follows is reported apart (`verify_s`). After each replay a sample of the group's state is
checked against what the log implies, so a fast replay that wrote the wrong thing fails.
Run: make bench-replay_groups
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
import uuid
from collections.abc import Sequence

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.harness import info, isolated_stack, report, report_bound
from bench.replay_checks import check_group
from bench.replay_log import LogShape, generate
from infra.kafka import KafkaEventLog, partitions_of
from infra.settings import Settings
from infra.topics import topic_of
from photofeed.replay_cli import replay_group
from projections.groups import Group
from replay.rebuild import topics_for
from schemas.codec import HEADER_LEN, bundled_schema_texts, default_codec, load_schema_versions
from schemas.events import Event

GROUPS = (
    Group.GRAPH,
    Group.PHOTOS,
    Group.FEEDS,
    Group.ENGAGEMENT,
    Group.SEARCH,
)  # graph first: feeds reads it
SCALE = 0.25  # of LogShape(): the largest log whose five replays fit ~2 minutes here
GOAL = 0.5  # issue 15: a replay runs at >= 50% of the bare consume + decode loop ...
MILLION_BOUND_S = 120.0  # ... and would rebuild 1M of its events in < 2 minutes (at its rate)
CONSUME_BATCH = 2000  # messages per consume() call, as replay/reader.py takes them
CONSUME_WAIT_S = 0.1  # consume()'s wait for a full batch, as replay/reader.py's (a longer one
# idles at the end of the log, when fewer than CONSUME_BATCH messages are left)
BARE_DEADLINE_S = 300.0


def load(settings: Settings, events: Sequence[Event]) -> None:
    log = KafkaEventLog(settings.bootstrap, default_codec())
    for event in events:
        log.append_nowait(event)
    log.flush(300)
    log.close()


def bare_consume_decode(settings: Settings, topics: list[str], expected: int) -> float:
    """Messages/s of a plain consumer reading `topics` from the start and decoding each body
    with fastavro (writer schema by fingerprint; no event objects, no projection)."""
    schemas = {v.fingerprint: v.schema for v in load_schema_versions(bundled_schema_texts())}
    reader = fastavro.schemaless_reader
    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap, "group.id": uuid.uuid4().hex,
         "enable.auto.commit": False, "fetch.wait.max.ms": 50}
    )  # fmt: skip
    parts = partitions_of(settings.bootstrap, topics)
    consumer.assign(
        [TopicPartition(t, p, OFFSET_BEGINNING) for t, n in parts.items() for p in range(n)]
    )
    started, seen = time.perf_counter(), 0
    try:
        while seen < expected and time.perf_counter() - started < BARE_DEADLINE_S:
            for m in consumer.consume(CONSUME_BATCH, CONSUME_WAIT_S):
                value = m.value()
                if m.error() is None and value:
                    reader(io.BytesIO(value[HEADER_LEN:]), schemas[value[2:HEADER_LEN]])
                    seen += 1
        elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    if seen < expected:
        raise RuntimeError(f"bare consumer saw {seen} of {expected} messages of {topics}")
    return seen / elapsed


def main() -> None:
    storage = sys.argv[1] if len(sys.argv) > 1 else "memory"
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else SCALE
    t = time.perf_counter()
    events, truth = generate(LogShape().scaled(scale))
    per_topic: dict[str, int] = {}
    for e in events:
        name = topic_of(type(e)).name
        per_topic[name] = per_topic.get(name, 0) + 1
    print(f"generated {len(events)} events in {time.perf_counter() - t:.1f} s", flush=True)
    with isolated_stack(storage) as settings:
        t = time.perf_counter()
        load(settings, events)
        print(f"loaded them in {time.perf_counter() - t:.1f} s", flush=True)
        everything = sorted(per_topic)
        bare_consume_decode(settings, everything, len(events))  # warm-up: broker, page cache
        for group in GROUPS:
            topics = topics_for(group)
            expected = sum(per_topic.get(name, 0) for name in topics)
            baseline = bare_consume_decode(settings, topics, expected)
            started = time.perf_counter()
            result = asyncio.run(replay_group(settings, group, force=True))
            wall = time.perf_counter() - started
            if result.events != expected:
                raise RuntimeError(f"replay {group} read {result.events} of {expected} events")
            asyncio.run(check_group(settings, group, truth))
            report(
                f"replay_{group}_events_per_s", result.events_per_s, baseline, GOAL, "events/s",
                better="higher", events=result.events, rebuild_s=result.seconds,
                verify_s=wall - result.seconds,
            )  # fmt: skip
            report_bound(  # the rate measured above, over a million events
                f"replay_{group}_s_per_1m_events", 1e6 / max(result.events_per_s, 1e-9),
                MILLION_BOUND_S, "s", better="lower", events=result.events,
            )  # fmt: skip
            info(f"replay_{group}_bare_s_per_1m_events", 1e6 / max(baseline, 1e-9), "s")
        info("replay_log_events", len(events), "events", scale=scale)


if __name__ == "__main__":
    main()
