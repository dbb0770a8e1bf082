"""Faust's aiokafka transport with the consumer's fetch wait under our control, and a drain loop
that hands a partition's records to its streams as bundles (streams/bundles.py), inline when
nothing can make that wait (`drain_messages`).

Faust hard-codes `fetch_max_wait_ms=1500` for every agent's consumer. Against Tansu that wait
sets what a new message waits: the broker looks at its storage, sleeps half the remaining wait,
looks again, and so on, and a produce does not wake it (ARCHITECTURE.md, Tansu facts); measured
with a bare consumer, a message waits up to half the wait (max 10.6 ms at 20 ms, 100 ms at 200).
So the wait is both the floor of freshness and the idle cost: each look costs the broker a pass
over every assigned partition (~0.7 ms of CPU for 30 partitions on its S3 storage; ~3 looks per
20 ms fetch) and each fetch the worker's consumer thread ~0.8 ms of pure-Python protocol work,
whether or not anything arrived.

Measured here (Tansu on S3, one idle worker, 30 partitions; % of one core, broker + worker):
15.4% at a 20 ms wait, 10.3% at 40, 5.1% at 100, 3.5% at 200; ~2% of it fixed (heartbeats,
commits, timers). So the wait adapts (`FetchWait`): `fetch_wait_ms` (20) while records keep
arriving, `fetch_idle_wait_ms` (200) once none came for `fetch_idle_after_s` (1 s). A stream of
events keeps the short wait; the first event after a quiet second waits up to half the idle wait
(bench_worker `like_visible_after_idle_ms`: p50 ~65 ms, max ~130 ms, vs ~25 / ~50 ms with 20).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
import structlog
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types.tuples import ConsumerMessage, ack_lock

from streams.bundles import BUNDLE_MAX, pack

log = structlog.get_logger("photofeed.worker")
YIELD_EVERY_BUNDLES = 10  # bundles handed over between two yields to the event loop


@dataclass(frozen=True, slots=True)
class FetchWaits:
    """The fetch waits a worker's consumers use (infra/settings.py: `fetch_wait_ms`,
    `fetch_idle_wait_ms`, `fetch_idle_after_s`)."""

    busy_ms: int
    idle_ms: int
    idle_after_s: float


class FetchWait:
    """The wait one consumer asks for on its next fetch: `waits.busy_ms` while a fetch brought
    records within the last `waits.idle_after_s`, else `waits.idle_ms`. Starts busy (a joining
    worker may have a backlog). Not thread-safe: one per consumer, on its event loop."""

    def __init__(self, waits: FetchWaits, clock: Callable[[], float] = time.monotonic) -> None:
        self.waits, self._clock = waits, clock
        self._records_at = clock()

    def after_fetch(self, had_records: bool) -> int:
        """The wait (ms) for the next fetch, given whether the one just answered had records."""
        now = self._clock()
        if had_records:
            self._records_at = now
        idle = now - self._records_at >= self.waits.idle_after_s
        return self.waits.idle_ms if idle else self.waits.busy_ms


def adapt_fetcher(fetcher: Any, wait: FetchWait) -> None:
    """Make an aiokafka `Fetcher` ask for `wait`'s choice on each next fetch: it reads
    `_fetch_max_wait_ms` whenever it builds a request, after the previous one to the same broker
    was processed by `_proc_fetch_request` (which answers whether it added records)."""
    fetch = fetcher._proc_fetch_request

    async def proc_fetch_request(assignment: Any, node_id: int, request: Any) -> bool:
        had_records = bool(await fetch(assignment, node_id, request))
        fetcher._fetch_max_wait_ms = wait.after_fetch(had_records)
        return had_records

    fetcher._proc_fetch_request = proc_fetch_request


def transport_class(
    waits: FetchWaits, bundle_max: Mapping[str, int] | None = None
) -> type[driver.Transport]:
    """The aiokafka Transport whose worker consumers wait per `FetchWait(waits)` and hand over
    bundles of at most `bundle_max[topic]` records (BUNDLE_MAX for a topic not in it)."""
    caps = dict(bundle_max or {})

    def cap(topic: str) -> int:
        return caps.get(topic, BUNDLE_MAX)

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = waits.busy_ms  # read when the consumer starts
            return consumer

        async def on_start(self) -> None:
            await super().on_start()  # creates and starts the consumer, and its fetcher
            adapt_fetcher(self._ensure_consumer()._fetcher, FetchWait(waits))

    class WaitingConsumer(driver.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def _drain_messages(self, fetcher: Any) -> None:
            await drain_messages(self, fetcher, cap)

        def ack(self, message: Any) -> bool:
            acked = bool(super().ack(message))
            ack_bundle(self, message, acked)
            return acked

    class Transport(driver.Transport):
        Consumer = WaitingConsumer

    return Transport


class InlineDelivery:
    """Whether the conductor can hand a message of a partition to its streams without waiting:
    the flow runs (no rebalance), no subscription change holds the conductor's lock, the
    producer's buffer is below its ebb mark and no stream queue of the partition is full. These
    are every place where Faust's `Conductor.on_message` can wait. Built once per drain loop."""

    def __init__(self, consumer: Any) -> None:
        app = consumer.app
        self._suspended = consumer.suspend_flow.is_set
        self._flowing = app.flow_control.is_active
        self._conductor = app.topics
        self._buffer = app.producer.buffer
        # what ProducerBuffer.size reads, without its per-call settings lookup (~5% of a like)
        self._threaded = bool(app.conf.producer_threaded)

    def _buffered(self) -> int:
        queue = self._buffer.queue if self._threaded else self._buffer.pending
        return queue.qsize() if queue is not None else 0

    def ready(self, tp: Any) -> bool:
        if self._suspended() or not self._flowing():
            return False
        conductor = self._conductor
        if conductor._tp_to_callback_lock.locked():
            return False
        if self._buffered() > self._buffer.max_messages:
            return False
        return not any(chan.queue.full() for chan in conductor._tp_index.get(tp, ()))


def covered_from(read: int | None, first: int) -> int:
    """The first offset a bundle starting at `first` answers for, after the partition's read
    offset `read`: offsets the log skipped before it (compaction, transaction markers) are done
    with it, as Faust marks them done with the message after them (its gaps)."""
    return read + 1 if read and first - read > 1 else first


class BundleMessage(ConsumerMessage):
    """The Faust message of a bundle: its offset is its newest record's, `first` the oldest
    offset it answers for (`covered_from`)."""

    __slots__ = ("first",)
    first: int


def bundle_message(tp: Any, records: Sequence[Any], first: int, generation: int) -> BundleMessage:
    """The message of a bundle of `records` (aiokafka ConsumerRecords of partition `tp`), as
    the driver's `_to_message` builds one for its newest record, its value the packed bundle."""
    last = records[-1]
    timestamp = cast(float, None) if last.timestamp is None else last.timestamp / 1000.0
    value = pack(records)
    message = BundleMessage(
        last.topic, last.partition, last.offset, timestamp, last.timestamp_type, last.headers,
        None, value, None, 0, len(value), tp, generation_id=generation,
    )  # fmt: skip
    message.first = first
    return message


def ack_bundle(consumer: Any, message: Any, acked: bool) -> None:
    """After Faust's `Consumer.ack(message)` returned `acked`: a bundle's earlier offsets are
    done with it. They count only once the bundle itself is finally acknowledged (never as
    gaps, which an acknowledgement above them, out of order or from before a rebalance, would
    fill), and only from the committed offset on, as Faust counts its own."""
    if not (acked and isinstance(message, BundleMessage)) or message.first >= message.offset:
        return
    tp = message.tp
    with ack_lock:
        committed = consumer._committed_offset[tp]
        start = message.first if committed is None else max(message.first, committed)
        earlier = [o for o in range(start, message.offset) if o not in consumer._acked_index[tp]]
        consumer._acked_index[tp].update(earlier)
        consumer._acked[tp].extend(earlier)


async def drain_messages(
    consumer: Any, fetcher: Any, bundle_max: Callable[[str], int] = lambda _topic: BUNDLE_MAX
) -> None:
    """Faust's `Consumer._drain_messages` and `getmany` (faust-streaming 0.15), but each fetched
    partition's records go to its streams as bundles of up to BUNDLE_MAX (streams/bundles.py)
    instead of one message each, and a bundle the conductor can take at once is handed over
    inline. Faust races every message's delivery against the flow being suspended with
    `wait_first`: four tasks and an `asyncio.wait` per message, ~60% of what a worker spent per
    like (bench_likes: likes_worker 1.5-2x with this). A delivery that may wait (`InlineDelivery`)
    still goes through `wait_first`, so a rebalance still cuts it short. Offsets and commits
    are kept as Faust keeps them; a bundle's earlier offsets count as done once the bundle is
    acknowledged (`ack_bundle`). `bundle_max(topic)`: the most records in one of its bundles."""
    callback, wait_next_records = consumer.callback, consumer._wait_next_records
    consumer_should_stop, fetcher_should_stop = consumer._stopped.is_set, fetcher._stopped.is_set
    get_read_offset = consumer._read_offset.__getitem__
    set_read_offset = consumer._read_offset.__setitem__
    app = consumer.app
    commit_every, acks_enabled_for = consumer._commit_every, app.topics.acks_enabled_for
    inline, since_yield = InlineDelivery(consumer), 0

    def rebalancing(generation: int) -> bool:
        """A rebalance began since `generation`: what is left of a fetch is fetched again."""
        return not consumer.flow_active or app.consumer_generation_id != generation

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            consumer.diag.set_flag(CONSUMER_FETCHING)
            records, active = await wait_next_records(1.0)
            await asyncio.sleep(0)  # a fetch may answer at once, again and again
            if records is None or consumer.should_stop:
                continue
            if not consumer.flow_active:  # as getmany: seek back to the committed offsets
                try:
                    await consumer.perform_seek()
                except Exception as exc:  # as getmany: a rebalance may take the partitions
                    log.warning("seek_while_flow_stopped_failed", error=repr(exc)[:300])
                continue
            generation = app.consumer_generation_id
            for tp, fetched in records.items():
                if active is not None and tp not in active | consumer._buffered_partitions:
                    continue
                app.monitor.track_tp_end_offset(tp, consumer.highwater(tp))
                read = get_read_offset(tp)
                if read is not None:
                    fetched = [r for r in fetched if r.offset >= read]  # Faust drops the rest
                acking, at = acks_enabled_for(tp.topic), 0
                while at < len(fetched) and not rebalancing(generation):
                    since_yield += 1
                    if since_yield > YIELD_EVERY_BUNDLES:
                        await asyncio.sleep(0)
                        since_yield = 0
                    if commit_every is not None and consumer._n_acked >= commit_every:
                        consumer._n_acked = 0
                        await consumer.commit()
                    if rebalancing(generation):
                        break  # the waits above let one begin
                    chunk = fetched[at : at + bundle_max(tp.topic)]
                    at += len(chunk)
                    first = chunk[0].offset
                    if acking:
                        first = covered_from(get_read_offset(tp), first)
                    message = bundle_message(tp, chunk, first, generation)
                    if inline.ready(tp):
                        await callback(message)
                    else:
                        await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
                    set_read_offset(tp, message.offset)
            consumer.diag.unset_flag(CONSUMER_FETCHING)
    except consumer.consumer_stopped_errors:
        if not consumer.transport.app.should_stop:
            raise
    except asyncio.CancelledError:
        if not consumer.transport.app.should_stop:
            raise
    finally:
        consumer.diag.unset_flag(CONSUMER_FETCHING)


class App(faust.App):
    """A Faust app whose consumers use `transport_class(fetch_waits, bundle_max)`."""

    def __init__(
        self, *args: Any, fetch_waits: FetchWaits, bundle_max: Mapping[str, int] | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        self._transport_cls = transport_class(fetch_waits, bundle_max)
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return self._transport_cls(self.conf.broker_consumer, self)
