"""streams.transport.InlineDelivery: a message is handed to its streams inline only when none
of the places where Faust's conductor can wait would make it wait; otherwise the drain loop
races the delivery against a rebalance as Faust does."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from mode.utils.queues import FlowControlEvent

from streams.transport import InlineDelivery

TP = ("photofeed.engagement", 0)


class Buffer:
    """Faust's ProducerBuffer as InlineDelivery reads it: its pending queue and ebb mark."""

    max_messages = 100

    def __init__(self) -> None:
        self.pending: asyncio.Queue[int] = asyncio.Queue()
        self.queue = None  # the threaded producer's queue (unused here)


def delivers_at_once(c: Any, tp: Any) -> bool:
    return InlineDelivery(c).ready(tp)


def consumer(queue_size: int = 2) -> Any:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=queue_size)
    app = SimpleNamespace(
        flow_control=FlowControlEvent(),
        topics=SimpleNamespace(
            _tp_to_callback_lock=asyncio.Lock(),
            _tp_index={TP: [SimpleNamespace(queue=queue)]},  # a set of topics in Faust
        ),
        producer=SimpleNamespace(buffer=Buffer()),
        conf=SimpleNamespace(producer_threaded=False),
    )
    app.flow_control.resume()
    return SimpleNamespace(app=app, suspend_flow=asyncio.Event(), queue=queue)


def test_a_running_flow_with_room_delivers_at_once() -> None:
    c = consumer()
    assert delivers_at_once(c, TP)
    assert delivers_at_once(c, ("photofeed.other", 3))  # no stream of its own: nothing to wait on


def test_a_suspended_flow_does_not() -> None:
    c = consumer()
    c.suspend_flow.set()  # the consumer's rebalance signal
    assert not delivers_at_once(c, TP)
    c = consumer()
    c.app.flow_control.suspend()  # the app's flow control, as during a rebalance
    assert not delivers_at_once(c, TP)


async def test_a_subscription_change_holding_the_conductor_does_not() -> None:
    c = consumer()
    async with c.app.topics._tp_to_callback_lock:
        assert not delivers_at_once(c, TP)
    assert delivers_at_once(c, TP)


def test_a_producer_buffer_past_its_ebb_mark_does_not() -> None:
    c = consumer()
    inline = InlineDelivery(c)  # built once: it sees the buffer as it changes
    for n in range(100):
        c.app.producer.buffer.pending.put_nowait(n)
    assert inline.ready(TP)
    c.app.producer.buffer.pending.put_nowait(100)
    assert not inline.ready(TP)


def test_a_full_stream_queue_does_not() -> None:
    c = consumer(queue_size=2)
    c.queue.put_nowait(1)
    assert delivers_at_once(c, TP)
    c.queue.put_nowait(2)
    assert not delivers_at_once(c, TP)
