"""streams.batches.drained on the queue type Faust channels use, fed bundles as the drain loop
packs them (streams/bundles.py): a batch is the records of what is queued, at most `max_`; a
bundle is acknowledged only once the caller is done with the batch holding its last record; a
batch the caller does not finish goes back to the channel; an event from before a rebalance is
skipped; an error thrown into the channel reaches the agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from mode.utils.locks import Event as FlowControlEvent
from mode.utils.queues import ThrowableQueue

from streams.batches import drained
from streams.bundles import BUNDLE_MAX, pack, unpack
from streams.deadletters import Consumed

TOPIC, PARTITION = "photofeed.engagement", 2


def record(offset: int) -> SimpleNamespace:  # an aiokafka ConsumerRecord, as pack reads it
    return SimpleNamespace(offset=offset, key=b"k%d" % offset, value=b"v%d" % offset)


GENERATION = 7  # the consumer generation of the app below


@dataclass
class Bundle:
    """A Faust event of a bundle: its message (the newest offset) and the packed value."""

    offsets: list[int]
    acked: list[int] = field(default_factory=list)
    generation: int = GENERATION

    @property
    def message(self) -> SimpleNamespace:
        return SimpleNamespace(topic=TOPIC, partition=PARTITION, offset=self.offsets[-1],
                               generation_id=self.generation)  # fmt: skip

    @property
    def value(self) -> bytes:
        return pack([record(o) for o in self.offsets])

    def ack(self) -> None:  # what a Faust event's ack() does for us: the bundle is done
        self.acked.append(self.offsets[-1])


class Channel:
    def __init__(self) -> None:
        self.queue: ThrowableQueue[Bundle] = ThrowableQueue(flow_control=FlowControlEvent())

    def __aiter__(self) -> Channel:
        return self


class FlowControl:
    active = True

    def is_active(self) -> bool:
        return self.active


@dataclass
class Stream:
    channel: Channel
    app: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(
        flow_control=FlowControl(), consumer_generation_id=GENERATION))  # fmt: skip


async def ask_next(batches: AsyncGenerator[list[Consumed], None]) -> asyncio.Future[list[Consumed]]:
    """Ask for the next batch and let the generator run until it waits (it has acknowledged
    what the caller finished)."""
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    return waiting


def offsets(batch: list[Consumed]) -> list[int]:
    return [m.offset for m in batch]


def test_a_bundle_unpacks_to_its_records_in_order() -> None:
    records = [record(o) for o in (7, 8, 9)]
    records[1].key = None  # a null key and a null value stay null
    records[2].value = None
    assert unpack(TOPIC, PARTITION, pack(records)) == [
        Consumed(TOPIC, PARTITION, 7, b"k7", b"v7"),
        Consumed(TOPIC, PARTITION, 8, None, b"v8"),
        Consumed(TOPIC, PARTITION, 9, b"k9", None),
    ]
    assert unpack(TOPIC, PARTITION, pack([])) == []
    assert BUNDLE_MAX >= 100  # a bundle is worth its hand-over


async def test_a_batch_is_what_is_queued_and_is_acked_after_use() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Bundle([0, 1], acked))
    stream.channel.queue.put_nowait(Bundle([2], acked))
    stream.channel.queue.put_nowait(Bundle([3, 4], acked))
    batches = drained(stream, 3)
    assert offsets(await anext(batches)) == [0, 1, 2]
    assert acked == []  # not before the caller asked for more
    assert offsets(await anext(batches)) == [3, 4]
    assert acked == [1, 2]  # both bundles of the first batch, by their newest offsets
    waiting = await ask_next(batches)
    assert not waiting.done()  # an idle agent waits for the next event, acking the last batch
    assert acked == [1, 2, 4]
    stream.channel.queue.put_nowait(Bundle([5], acked))
    assert offsets(await waiting) == [5]  # a lone event goes at once
    await batches.aclose()  # the caller stopped before finishing it: [5] is not done
    assert acked == [1, 2, 4]


async def test_a_bundle_larger_than_a_batch_is_acked_with_its_last_record() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Bundle(list(range(7)), acked))
    stream.channel.queue.put_nowait(Bundle([7, 8], acked))
    batches = drained(stream, 3)
    assert offsets(await anext(batches)) == [0, 1, 2]
    assert offsets(await anext(batches)) == [3, 4, 5]
    assert acked == []  # records 3-6 of the first bundle are not done yet
    assert offsets(await anext(batches)) == [6, 7, 8]
    assert acked == []
    waiting = await ask_next(batches)
    assert acked == [6, 8]
    waiting.cancel()


async def test_an_error_thrown_into_the_channel_reaches_the_agent() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Bundle([0], acked))
    batches = drained(stream, 10)
    assert offsets(await anext(batches)) == [0]
    waiting = await ask_next(batches)
    await stream.channel.queue.throw(RuntimeError("stop"))  # as Faust's stream.throw does
    with pytest.raises(RuntimeError, match="stop"):
        await waiting
    assert acked == [0]


async def test_faust_ending_the_stream_ends_the_batches() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Bundle([0], acked))
    batches = drained(stream, 10)
    assert offsets(await anext(batches)) == [0]
    stream.channel.queue._throw(StopAsyncIteration())  # what Faust's actor.cancel() does
    assert [b async for b in batches] == []
    assert acked == [0]


async def test_a_batch_the_agent_did_not_finish_goes_to_the_agent_restarted_after_it() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Bundle(list(range(5)), acked))
    stream.channel.queue.put_nowait(Bundle([5], acked))
    crashed = drained(stream, 3)
    assert offsets(await anext(crashed)) == [0, 1, 2]
    assert offsets(await anext(crashed)) == [3, 4, 5]
    await crashed.aclose()  # its loop raised holding [3, 4, 5]; it is supervised back
    assert acked == []  # the first bundle's last record was never done
    restarted = drained(stream, 2)
    assert offsets(await anext(restarted)) == [3, 4]  # nothing skipped
    assert offsets(await anext(restarted)) == [5]
    assert acked == [4]
    waiting = await ask_next(restarted)
    assert acked == [4, 5]
    waiting.cancel()


async def test_an_event_from_before_a_rebalance_is_skipped_and_not_acked() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Bundle([0, 1, 2], acked, generation=GENERATION - 1))
    stream.channel.queue.put_nowait(Bundle([0, 1], acked))  # read again after the rebalance
    batches = drained(stream, 10)
    assert offsets(await anext(batches)) == [0, 1]
    waiting = await ask_next(batches)
    assert acked == [1]  # never 2: the stale bundle's ack would have covered offset 2
    stream.app.flow_control.active = False  # a rebalance stops the flow
    stream.channel.queue.put_nowait(Bundle([2], acked))
    await asyncio.sleep(0)
    assert not waiting.done()  # skipped while the flow is stopped
    waiting.cancel()


async def test_the_batches_end_after_the_records_in_hand_when_the_stream_ends() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Bundle(list(range(8)), acked))
    batches = drained(stream, 3)
    assert offsets(await anext(batches)) == [0, 1, 2]
    stream.channel.queue._throw(StopAsyncIteration())  # the worker stops
    assert [offsets(b) async for b in batches] == [[3, 4, 5], [6, 7]]
    assert acked == [7]
