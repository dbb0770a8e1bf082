"""Kafka plumbing over confluent-kafka: idempotent topic creation, the event appender, watermarks.

Tansu (the local broker) has no idempotent producer and no transactions, so the producer runs
with `enable.idempotence=false` and `acks=all`; projections are idempotent instead.

What an append's outcome guarantees (acks=all, no idempotence): an acknowledged event is stored
by every in-sync replica. An event reported as failed (AppendError) is never acknowledged later:
librdkafka stops retrying it at its delivery timeout. It may nevertheless have been stored when
it was in flight at that moment (the broker wrote it, the answer was lost); while the broker is
unreachable nothing is in flight, so nothing is stored. A caller that reports the failure must
therefore let its client retry the same command (Idempotency-Key): the retry reuses the event
ids, and projections apply an event id once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from infra.positions import LogPosition
from infra.topics import CATALOGUE, TopicSpec, key_of, topic_of
from schemas.codec import Codec
from schemas.events import Event

POLL_INTERVAL_S = 0.05  # delivery callbacks run at most this late
DELIVERY_TIMEOUT_S = 15.0  # default bound on an append (librdkafka's message.timeout.ms)
DELIVERY_GRACE_S = 2.0  # > librdkafka's 1 s timeout scan + POLL_INTERVAL_S: it reports a
# timed-out event within this, so the safety net below never preempts its verdict
RECONNECT_BACKOFF_MAX_MS = 1000  # a restarted broker is used again within this (default: 10 s)


class AppendError(RuntimeError):
    """The log did not acknowledge an event; the command must be reported as failed."""


def create_topics(
    bootstrap: str, specs: Iterable[TopicSpec] = CATALOGUE, partitions: int | None = None
) -> dict[str, str]:
    """Create missing topics with their configs; return topic -> 'created' | 'exists'."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    result = {s.name: "exists" for s in specs if s.name in existing}
    new = [
        NewTopic(
            s.name, (partitions or s.partitions) if s.partitions > 1 else 1, 1, config=s.config
        )
        for s in specs
        if s.name not in existing
    ]
    if new:
        for name, future in admin.create_topics(new, operation_timeout=10).items():
            try:
                future.result()
                result[name] = "created"
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                result[name] = "exists"
    return result


def producer_config(
    bootstrap: str,
    delivery_timeout_s: float = DELIVERY_TIMEOUT_S,
    security: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An event is acknowledged or reported failed within `delivery_timeout_s` (>= 1 s): the
    queued, the in-flight and the unsent alike. `security`: the broker's authentication
    properties (Settings.kafka_security(); none for the local Tansu)."""
    timeout_ms = max(1000, int(delivery_timeout_s * 1000))  # librdkafka's minimums
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": False,  # Tansu answers InitProducerId with an error
        "linger.ms": 2,
        "compression.type": "none",
        "message.timeout.ms": timeout_ms,  # queue + retries + the broker's answer
        "request.timeout.ms": timeout_ms,  # an unanswered produce request fails no later
        "socket.connection.setup.timeout.ms": timeout_ms,
        "reconnect.backoff.max.ms": RECONNECT_BACKOFF_MAX_MS,
        **(security or {}),
    }


class KafkaEventLog:
    """Appends events to their catalogue topics and waits for the broker's acknowledgement.

    Call `close()` once at shutdown; until then a background thread serves delivery reports.
    """

    def __init__(
        self, bootstrap: str, codec: Codec, *, delivery_timeout_s: float = DELIVERY_TIMEOUT_S
    ) -> None:
        self._codec = codec
        self._producer = Producer(producer_config(bootstrap, delivery_timeout_s))
        self._bound_s = max(1.0, delivery_timeout_s) + DELIVERY_GRACE_S
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(POLL_INTERVAL_S)

    async def append(self, *events: Event) -> list[LogPosition]:
        """Append in order; once every event is acknowledged by all replicas, return where
        each was stored (from the delivery reports), in the order of `events`.

        Raises AppendError within the delivery timeout (+ DELIVERY_GRACE_S) otherwise; see the
        module docstring for what a failed append may still have stored."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[LogPosition]] = []
        try:
            for event in events:
                fut: asyncio.Future[LogPosition] = loop.create_future()
                futures.append(fut)
                self._producer.produce(
                    topic_of(type(event)).name,
                    value=self._codec.encode(event),
                    key=key_of(event),
                    on_delivery=_resolver(loop, fut),
                )
        except (BufferError, KafkaException) as exc:  # local queue full, producer failed
            raise AppendError(f"the event log refused the event: {exc}") from None
        try:
            async with asyncio.timeout(self._bound_s):
                return list(await asyncio.gather(*futures))
        except TimeoutError:
            raise AppendError(
                f"the event log did not report on the event within {self._bound_s:.1f} s"
            ) from None

    def append_nowait(self, event: Event) -> None:
        """Queue one event without waiting (bulk loaders); call `flush()` before trusting it."""
        while True:
            try:
                self._producer.produce(
                    topic_of(type(event)).name,
                    value=self._codec.encode(event),
                    key=key_of(event),
                )
                return
            except BufferError:
                self._producer.poll(0.1)

    def flush(self, timeout_s: float = 30.0) -> None:
        if self._producer.flush(timeout_s) > 0:
            raise AppendError("events still undelivered after flush timeout")

    def close(self) -> None:
        self._producer.flush(10)
        self._stop.set()
        self._thread.join(timeout=2)


def _resolver(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[LogPosition]) -> Any:
    def done(err: KafkaError | None, msg: Message) -> None:
        where = _position(msg) if err is None else None

        def settle() -> None:
            if fut.done():
                return
            if where is not None:
                fut.set_result(where)
            else:
                reason = err.str() if err is not None else "no offset in the acknowledgement"
                fut.set_exception(AppendError(f"the event log refused the event: {reason}"))

        loop.call_soon_threadsafe(settle)

    return done


def _position(msg: Message) -> LogPosition | None:
    """Where an acknowledged message was stored; None when the report lacks it (never with
    acks=all, which producer_config sets: the broker answers every produce with its offset)."""
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None or offset < 0:
        return None
    return LogPosition(topic, partition, offset)


def partitions_of(bootstrap: str, topics: Sequence[str]) -> dict[str, int]:
    """Partition counts of existing topics (missing topics are absent)."""
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return {t: len(meta.topics[t].partitions) for t in topics if t in meta.topics}
