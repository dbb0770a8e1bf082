"""streams.transport.delivers_at_once: a message is handed to its streams inline only when none
of the places where Faust's conductor can wait would make it wait; otherwise the drain loop
races the delivery against a rebalance as Faust does."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from mode.utils.queues import FlowControlEvent

from streams.transport import delivers_at_once

TP = ("photofeed.engagement", 0)


def consumer(queue_size: int = 2) -> Any:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=queue_size)
    app = SimpleNamespace(
        flow_control=FlowControlEvent(),
        topics=SimpleNamespace(
            _tp_to_callback_lock=asyncio.Lock(),
            _tp_index={TP: [SimpleNamespace(queue=queue)]},  # a set of topics in Faust
        ),
        producer=SimpleNamespace(buffer=SimpleNamespace(size=0, max_messages=100)),
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
    c.app.producer.buffer.size = 101
    assert not delivers_at_once(c, TP)
    c.app.producer.buffer.size = 100
    assert delivers_at_once(c, TP)


def test_a_full_stream_queue_does_not() -> None:
    c = consumer(queue_size=2)
    c.queue.put_nowait(1)
    assert delivers_at_once(c, TP)
    c.queue.put_nowait(2)
    assert not delivers_at_once(c, TP)
