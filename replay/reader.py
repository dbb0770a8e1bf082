"""Reads topics from their first offset up to the high watermark seen at start, then stops.

The stop offset of each partition is the high watermark carried by its first fetch response, not
a ListOffsets answer: Tansu's s3:// storage answers ListOffsets(latest) with 1 whatever the log
holds (measured here), while its fetch responses carry the true watermark.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from infra.consumers import consumer_config
from infra.kafka import partitions_of
from infra.topics import CATALOGUE, DEAD_LETTER
from schemas.codec import DecodeError, default_codec
from schemas.events import Event

BATCH = 2000  # messages handed to the caller at a time: one projection pipeline each
POLL_TIMEOUT_S = 0.1  # consume() waits this long for a full batch; short, so the tail is quick


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes


class LogReader:
    """One pass over `topics`; iterate `batches()` once. `total` is known after the first batch."""

    def __init__(
        self, bootstrap: str, topics: Sequence[str], security: Mapping[str, str] | None = None
    ) -> None:
        """`security`: the broker's authentication properties (Settings.kafka_security())."""
        self._bootstrap = bootstrap
        self._security = dict(security or {})
        self._topics = list(topics)
        self.stop_offsets: dict[tuple[str, int], int] = {}
        self.read = 0

    def batches(self) -> Iterator[list[Record]]:
        parts = partitions_of(self._bootstrap, self._topics)
        options = {
            "group.id": f"photofeed-replay-{uuid.uuid4().hex}",  # never committed
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
        }
        consumer = Consumer(consumer_config(self._bootstrap, options, self._security))
        assigned = [
            TopicPartition(t, p, OFFSET_BEGINNING) for t, n in parts.items() for p in range(n)
        ]
        consumer.assign(assigned)
        pending = {(tp.topic, tp.partition) for tp in assigned}
        try:
            while pending:
                batch: list[Record] = []
                for msg in consumer.consume(BATCH, POLL_TIMEOUT_S):
                    key = (msg.topic(), msg.partition())
                    if key not in pending:
                        continue
                    stop = self._stop_offset(consumer, key)
                    err = msg.error()
                    if err is not None:
                        if err.code() != KafkaError._PARTITION_EOF:
                            raise RuntimeError(f"reading {key}: {err.str()}")
                        self._finish(consumer, pending, key)
                        continue
                    offset, value = msg.offset() or 0, msg.value() or b""
                    if offset >= stop:
                        self._finish(consumer, pending, key)
                        continue
                    batch.append(Record(key[0], key[1], offset, value))
                    if offset + 1 >= stop:
                        self._finish(consumer, pending, key)
                self.read += len(batch)
                if batch:
                    yield batch
        finally:
            consumer.close()

    def _stop_offset(self, consumer: Consumer, key: tuple[str, int]) -> int:
        if key not in self.stop_offsets:
            _low, high = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
            self.stop_offsets[key] = high
        return self.stop_offsets[key]

    @staticmethod
    def _finish(consumer: Consumer, pending: set[tuple[str, int]], key: tuple[str, int]) -> None:
        pending.discard(key)
        consumer.pause([TopicPartition(*key)])


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One message of the log, decoded; `event` is None, and `error` says why, for a value the
    bundled schemas cannot read."""

    topic: str
    partition: int
    offset: int
    event: Event | None
    error: str = ""


def read_to_end(
    bootstrap: str, topics: Sequence[str] = (), security: Mapping[str, str] | None = None
) -> Iterator[LoggedEvent]:
    """For data teams: every message of `topics` (default: every catalogue topic but the dead
    letters) from its partition's first offset up to the log end as it was when reading began,
    decoded with the schemas in schemas/avro/ (older versions read as the newest).

    Guarantees: the end is each partition's high watermark from its first fetch response, so
    the read stops at the true end (ListOffsets, which Tansu answers wrongly, is never asked);
    each partition comes in offset order (partitions interleave); nothing is committed and no
    consumer group is joined. Sealed personal fields stay `sealed1.` strings: opening them
    takes the actor's data key (streams/opener.py). `security`: the broker's authentication
    properties, if it has any."""
    codec = default_codec()
    names = list(topics) or [t.name for t in CATALOGUE if t is not DEAD_LETTER]
    for batch in LogReader(bootstrap, names, security).batches():
        for r in batch:
            try:
                yield LoggedEvent(r.topic, r.partition, r.offset, codec.decode(r.value))
            except DecodeError as exc:
                yield LoggedEvent(r.topic, r.partition, r.offset, None, str(exc))
