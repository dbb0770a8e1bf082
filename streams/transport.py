"""Faust's aiokafka transport with the consumer's fetch wait under our control.

Faust hard-codes `fetch_max_wait_ms=1500` for every agent's consumer. Against Tansu that wait
is what a new message waits: the broker polls its storage and sleeps through the fetch wait, and
a produce does not wake it (ARCHITECTURE.md, Tansu facts). So freshness is set here: the worker
asks for `PHOTOFEED_FETCH_WAIT_MS` (see infra/settings.py for the measured choice).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver


def transport_class(fetch_wait_ms: int) -> type[driver.Transport]:
    """The aiokafka Transport whose worker consumers wait at most `fetch_wait_ms` per fetch."""

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_wait_ms  # read when the consumer starts
            return consumer

    class WaitingConsumer(driver.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        Consumer = WaitingConsumer

    return Transport


class App(faust.App):
    """A Faust app whose consumers use `transport_class(fetch_wait_ms)`."""

    def __init__(self, *args: Any, fetch_wait_ms: int, **kwargs: Any) -> None:
        self._transport_cls = transport_class(fetch_wait_ms)
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return self._transport_cls(self.conf.broker_consumer, self)
