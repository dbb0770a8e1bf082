"""Consumer-group lag: the group's committed offsets against the true log end of each partition.

The log end is the high watermark carried by a fetch response (librdkafka's cached watermark),
never a ListOffsets answer: Tansu answers ListOffsets(latest) wrongly on every storage engine
(../shared/ARCHITECTURE.md, "Tansu facts"). So the probe assigns a throwaway consumer at each
partition's committed offset, polls until every partition has had a fetch response, and reads
`get_watermark_offsets(cached=True)`. It never joins the group and never commits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from prometheus_client.core import GaugeMetricFamily, Metric

from infra.consumers import consumer_config
from infra.settings import Settings
from infra.topics import CATALOGUE, DEAD_LETTER

PROBE_TIMEOUT_S = 5.0  # bound of one probe; a healthy local broker answers in ~0.1 s
FETCH_WAIT_MS = 20  # fetch responses at the end come back this fast (Tansu sleeps through it)
POLL_S = 0.02  # one consume() while waiting for fetch responses; < FETCH_WAIT_MS * 2
PREFETCH_KBYTES = 1024  # what a probe buffers: it discards every message it fetches
PROBE_FETCH_BYTES = 64 * 1024  # per partition and fetch; a larger message still comes whole


class LagProbeError(RuntimeError):
    """The broker did not answer (metadata or committed offsets) within the probe's bound."""


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # the group's next offset to read; None: it never committed here
    start: int | None  # first offset still in the log (low watermark); None: unknown
    end: int | None  # log end from a fetch response; None: no fetch answer within the bound

    @property
    def lag(self) -> int | None:
        """Messages the group has yet to read (None while the end is unknown). A group that
        never committed will read from the first stored offset (auto.offset.reset=earliest)."""
        if self.end is None:
            return None
        base = self.committed if self.committed is not None else (self.start or 0)
        return max(0, self.end - base)


def lag_topics() -> list[str]:
    """The topics the worker consumes: the catalogue without the dead-letter topic."""
    return [t.name for t in CATALOGUE if t is not DEAD_LETTER]


def probe_consumer(settings: Settings, group: str | None, timeout_s: float) -> Consumer:
    """A consumer for probes: reads `group`'s offsets (default: a throwaway group) and never
    joins or commits; it fetches little, since probes discard every message."""
    return Consumer(
        consumer_config(
            settings,
            {
                "group.id": group or f"photofeed-probe-{uuid.uuid4().hex}",
                "fetch.wait.max.ms": FETCH_WAIT_MS,
                "max.partition.fetch.bytes": PROBE_FETCH_BYTES,
                "queued.max.messages.kbytes": PREFETCH_KBYTES,
                "socket.connection.setup.timeout.ms": max(1000, int(timeout_s * 1000)),
                "log_level": 0,  # an unreachable broker is the probe's to report (LagProbeError)
            },
        )
    )


def probe_lag(
    settings: Settings,
    group: str | None = None,
    topics: Sequence[str] | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> list[PartitionLag]:
    """One row per partition of `topics` (default lag_topics(); topics missing on the broker are
    left out) for `group` (default settings.worker_group), sorted by topic and partition.

    Blocks for at most about `timeout_s`. Raises LagProbeError when the broker does not answer
    the metadata or committed-offsets requests in time; a partition whose fetch response does
    not arrive in time has `end` None."""
    consumer = probe_consumer(settings, group or settings.worker_group, timeout_s)
    deadline = time.monotonic() + timeout_s
    try:
        try:
            meta = consumer.list_topics(timeout=timeout_s)
            tps = [
                TopicPartition(t, p)
                for t in sorted(topics if topics is not None else lag_topics())
                if t in meta.topics
                for p in sorted(meta.topics[t].partitions)
            ]
            committed = consumer.committed(tps, timeout=_left(deadline)) if tps else []
        except KafkaException as exc:
            raise LagProbeError(f"{settings.bootstrap} did not answer: {exc}") from exc
        offsets = {(tp.topic, tp.partition): tp.offset for tp in committed}
        marks = fetch_watermarks(consumer, committed, deadline)
    finally:
        consumer.close()
    rows = []
    for tp in tps:
        key = (tp.topic, tp.partition)
        low, high = marks.get(key, (None, None))
        done = offsets.get(key, -1)
        rows.append(PartitionLag(tp.topic, tp.partition, done if done >= 0 else None, low, high))
    return rows


def log_ends(
    settings: Settings, partitions: Iterable[tuple[str, int]], timeout_s: float = PROBE_TIMEOUT_S
) -> dict[tuple[str, int], tuple[int | None, int]]:
    """(first offset or None, log end) of each (topic, partition), from fetch responses; those
    without an answer within `timeout_s` are absent."""
    consumer = probe_consumer(settings, None, timeout_s)
    try:
        starts = [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in partitions]
        return fetch_watermarks(consumer, starts, time.monotonic() + timeout_s)
    finally:
        consumer.close()


def fetch_watermarks(
    consumer: Consumer, positions: Iterable[TopicPartition], deadline: float
) -> dict[tuple[str, int], tuple[int | None, int]]:
    """(low, high) watermarks from the fetch responses of `positions` (offsets < 0: from the
    beginning), polling until each partition answered or the monotonic `deadline`; partitions
    without an answer are absent. Assigns `consumer` (its messages are discarded) and pauses
    each partition once its watermark is known; the caller closes the consumer."""
    starts = [
        TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
        for tp in positions
    ]
    if not starts:
        return {}
    consumer.assign(starts)
    out: dict[tuple[str, int], tuple[int | None, int]] = {}
    pending = {(tp.topic, tp.partition) for tp in starts}
    while pending:
        consumer.consume(1000, POLL_S)
        for key in sorted(pending):
            low, high = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
            if high >= 0:  # librdkafka answers OFFSET_INVALID (-1001) until a fetch answered
                out[key] = (low if low >= 0 else None, high)
                pending.discard(key)
                consumer.pause([TopicPartition(*key)])
        if time.monotonic() >= deadline:
            break
    return out


def _left(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())


def lag_families(lags: Sequence[PartitionLag], group: str, ok: bool = True) -> list[Metric]:
    """Prometheus gauges of one group's probe (see group_lag_families); `ok` False: the broker
    did not answer."""
    return group_lag_families({group: lags if ok else None})


def group_lag_families(probes: Mapping[str, Sequence[PartitionLag] | None]) -> list[Metric]:
    """Prometheus gauges of one probe per consumer group (None: that probe got no answer): per
    partition each group's committed offset and lag, the log end (once per partition: the
    highest any probe saw), and `photofeed_lag_probe_ok` per group (0 when it got no answer;
    its partitions are then left out rather than shown stale)."""
    committed = GaugeMetricFamily(
        "photofeed_group_committed_offset",
        "the consumer group's committed offset (next offset to read)",
        labels=["group", "topic", "partition"],
    )
    end = GaugeMetricFamily(
        "photofeed_log_end_offset",
        "log end offset (high watermark carried by a fetch response)",
        labels=["topic", "partition"],
    )
    lag = GaugeMetricFamily(
        "photofeed_group_lag",
        "messages the consumer group has yet to read (log end - committed)",
        labels=["group", "topic", "partition"],
    )
    up = GaugeMetricFamily(
        "photofeed_lag_probe_ok", "1 when the last lag probe got answers", labels=["group"]
    )
    ends: dict[tuple[str, int], int] = {}
    for group, rows in sorted(probes.items()):
        up.add_metric([group], 0.0 if rows is None else 1.0)
        for row in rows or ():
            part = str(row.partition)
            if row.committed is not None:
                committed.add_metric([group, row.topic, part], row.committed)
            if row.end is not None:
                key = (row.topic, row.partition)
                ends[key] = max(row.end, ends.get(key, row.end))
            if row.lag is not None:
                lag.add_metric([group, row.topic, part], row.lag)
    for (topic, partition), offset in sorted(ends.items()):
        end.add_metric([topic, str(partition)], offset)
    return [committed, end, lag, up]


def lag_metrics(settings: Settings, group: str | None = None) -> list[Metric]:
    """Probe now and return the gauges (for a `/metrics` collector). Blocks up to about
    PROBE_TIMEOUT_S (broker down): call it off the event loop (asyncio.to_thread)."""
    name = group or settings.worker_group
    try:
        return lag_families(probe_lag(settings, name), name)
    except LagProbeError:
        return lag_families([], name, ok=False)
