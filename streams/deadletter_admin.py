"""Operating the dead letters: read them back, redrive them to their source topic, purge them.

The dead-letter topic is append-only (and Tansu has no DeleteRecords), so what an operator did
with a letter is kept beside it in Valkey: `DeadLetterKeys.RESOLVED` (streams/keys.py) maps a
letter's id to "redriven <ms>" or "purged <ms>". `list` hides resolved letters unless asked;
`redrive --all` never sends one twice. Reading stops at the end seen in fetch responses (never
the broker's ListOffsets answer, which Tansu gets wrong), so a letter appended a moment ago is
not missed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from redis.asyncio import Redis

from infra.consumers import consumer_config
from infra.kafka import producer_config
from infra.topics import DEAD_LETTER
from streams.deadletters import REDRIVEN_FROM, DeadLetter, parse
from streams.keys import DeadLetterKeys

POLL_S = 0.2  # consume() wait; short, so reading to the end is quick
IDLE_POLLS = 25  # empty polls before giving up on reaching the end (5 s: a stalled broker)


@dataclass(frozen=True, slots=True)
class Listed:
    letter: DeadLetter
    resolution: str  # "" while open


def read_letters(
    bootstrap: str, topic: str = DEAD_LETTER.name, security: Mapping[str, str] | None = None
) -> Iterator[DeadLetter]:
    """Every dead letter from the first, up to the end the first fetch reported. `security`:
    the broker's authentication properties (Settings.kafka_security())."""
    options = {
        "group.id": f"photofeed-deadletters-{uuid.uuid4().hex}",  # never committed
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 50,
    }
    consumer = Consumer(consumer_config(bootstrap, options, security or {}))
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    idle = 0
    try:
        while idle < IDLE_POLLS:
            msg = consumer.poll(POLL_S)
            if msg is None:
                idle += 1
                continue
            idle = 0
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    return
                raise RuntimeError(f"reading {topic}: {err.str()}")
            yield parse(msg.offset() or 0, msg.key(), msg.value(), _header_bytes(msg.headers()))
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), cached=True)
            if (msg.offset() or 0) + 1 >= high:
                return
    finally:
        consumer.close()


async def listed(
    redis: Redis, letters: Iterable[DeadLetter], *, include_resolved: bool = False
) -> list[Listed]:
    raw: dict[Any, Any] = await redis.hgetall(DeadLetterKeys.RESOLVED)
    marks = {int(k): v.decode() for k, v in raw.items()}
    out = [Listed(letter, marks.get(letter.id, "")) for letter in letters]
    return [item for item in out if include_resolved or not item.resolution]


def redrive(bootstrap: str, letters: Iterable[DeadLetter]) -> int:
    """Append each letter's original key and value to its source partition, once per source
    message; return how many were appended. Each carries `redriven_from` = the letter's id."""
    producer = Producer(producer_config(bootstrap))
    errors: list[str] = []
    sent = 0

    def report(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(err.str())

    unique = {(d.source_topic, d.source_partition, d.source_offset): d for d in letters}
    for letter in unique.values():  # two agents of one topic may have set the same message aside
        producer.produce(
            letter.source_topic, value=letter.value, key=letter.key,
            partition=max(letter.source_partition, -1),  # -1: librdkafka's partitioner picks
            headers=[(REDRIVEN_FROM, str(letter.id).encode())], on_delivery=report,
        )  # fmt: skip
        sent += 1
    if producer.flush(30) or errors:
        raise RuntimeError(f"redrive not acknowledged: {errors or 'flush timed out'}")
    return sent


async def mark(redis: Redis, ids: Iterable[int], how: str) -> None:
    stamp = f"{how} {int(time.time() * 1000)}"
    items: list[str] = [x for i in ids for x in (str(i), stamp)]
    if items:
        await redis.hset(DeadLetterKeys.RESOLVED, items=items)


def _header_bytes(headers: object) -> list[tuple[str, bytes]]:
    """confluent-kafka gives a list of (str, bytes | None) pairs, or None."""
    pairs = headers if isinstance(headers, list) else []
    return [(str(k), v if isinstance(v, bytes) else b"") for k, v in pairs]
