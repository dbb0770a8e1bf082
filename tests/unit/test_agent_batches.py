"""streams.batches.drained on the queue type Faust channels use: a batch is what is queued, at
most `max_`; events are acknowledged only once the caller is done with their batch; an error
thrown into the channel reaches the agent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from mode.utils.locks import Event as FlowControlEvent
from mode.utils.queues import ThrowableQueue

from streams.batches import drained


@dataclass
class Message:
    offset: int
    acked: list[int] = field(default_factory=list)

    def ack(self) -> None:  # what a Faust event's ack() does for us: mark the offset done
        self.acked.append(self.offset)


class Channel:
    def __init__(self) -> None:
        self.queue: ThrowableQueue[Message] = ThrowableQueue(flow_control=FlowControlEvent())

    def __aiter__(self) -> Channel:
        return self


@dataclass
class Stream:
    channel: Channel


async def test_a_batch_is_what_is_queued_and_is_acked_after_use() -> None:
    stream, acked = Stream(Channel()), list[int]()
    for offset in range(5):
        stream.channel.queue.put_nowait(Message(offset, acked))
    batches = drained(stream, 3)
    first = await anext(batches)
    assert [m.offset for m in first] == [0, 1, 2]
    assert acked == []  # not before the caller asked for more
    second = await anext(batches)
    assert ([m.offset for m in second], acked) == ([3, 4], [0, 1, 2])
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    assert not waiting.done()  # an idle agent waits for the next event, acking the last batch
    assert acked == [0, 1, 2, 3, 4]
    stream.channel.queue.put_nowait(Message(5, acked))
    assert [m.offset for m in await waiting] == [5]  # a lone event goes at once
    await batches.aclose()
    assert acked[-1] == 5


async def test_an_error_thrown_into_the_channel_reaches_the_agent() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Message(0, acked))
    batches = drained(stream, 10)
    assert [m.offset for m in await anext(batches)] == [0]
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    await stream.channel.queue.throw(RuntimeError("stop"))  # as Faust's stream.throw does
    with pytest.raises(RuntimeError, match="stop"):
        await waiting
    assert acked == [0]


async def test_faust_ending_the_stream_ends_the_batches() -> None:
    stream, acked = Stream(Channel()), list[int]()
    stream.channel.queue.put_nowait(Message(0, acked))
    batches = drained(stream, 10)
    assert [m.offset for m in await anext(batches)] == [0]
    stream.channel.queue._throw(StopAsyncIteration())  # what Faust's actor.cancel() does
    assert [b async for b in batches] == []
    assert acked == [0]
