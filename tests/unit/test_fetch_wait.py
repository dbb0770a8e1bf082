"""streams.transport: the consumer's fetch wait is short while records flow and long once they
stopped for a while, and the aiokafka fetcher hook applies the choice to the next request."""

from __future__ import annotations

import asyncio
from typing import Any

from infra.settings import Settings
from streams.transport import FetchWait, FetchWaits, adapt_fetcher

WAITS = FetchWaits(busy_ms=20, idle_ms=200, idle_after_s=1.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_is_short_until_no_records_came_for_idle_after_s() -> None:
    clock = Clock()
    wait = FetchWait(WAITS, clock)  # a joining worker starts busy: it may have a backlog
    assert wait.after_fetch(False) == 20
    clock.now += 0.99
    assert wait.after_fetch(False) == 20
    clock.now += 0.01
    assert wait.after_fetch(False) == 200


def test_records_make_the_wait_short_again_at_once() -> None:
    clock = Clock()
    wait = FetchWait(WAITS, clock)
    clock.now += 5
    assert wait.after_fetch(False) == 200
    assert wait.after_fetch(True) == 20
    clock.now += 0.5
    assert wait.after_fetch(False) == 20  # records half a second ago: still busy


def test_equal_waits_keep_one_wait() -> None:
    clock = Clock()
    wait = FetchWait(FetchWaits(20, 20, 1.0), clock)
    clock.now += 60
    assert wait.after_fetch(False) == 20


class Fetcher:
    """What adapt_fetcher touches of aiokafka's Fetcher."""

    def __init__(self, answers: list[bool]) -> None:
        self._fetch_max_wait_ms = 20
        self.answers = answers
        self.requests: list[Any] = []

    async def _proc_fetch_request(self, assignment: Any, node_id: int, request: Any) -> bool:
        self.requests.append((assignment, node_id, request))
        return self.answers.pop(0)


def test_the_fetcher_asks_for_the_chosen_wait_on_its_next_request() -> None:
    clock = Clock()
    fetcher = Fetcher([False, False, True])
    adapt_fetcher(fetcher, FetchWait(WAITS, clock))

    async def fetch() -> bool:
        return bool(await fetcher._proc_fetch_request("assignment", 1, "request"))

    clock.now += 2
    assert asyncio.run(fetch()) is False
    assert fetcher._fetch_max_wait_ms == 200
    assert asyncio.run(fetch()) is False
    assert fetcher._fetch_max_wait_ms == 200
    assert asyncio.run(fetch()) is True  # the answer passes through unchanged
    assert fetcher._fetch_max_wait_ms == 20
    assert fetcher.requests == [("assignment", 1, "request")] * 3


def test_the_idle_wait_defaults_keep_a_lone_events_wait_in_the_tens_of_ms() -> None:
    """Tansu answers a message within half the wait; the idle wait comes only after many short
    fetches in a row found nothing, so a steady stream never meets it."""
    s = Settings()
    assert s.fetch_wait_ms <= s.fetch_idle_wait_ms / 2 <= 100
    assert s.fetch_idle_after_s * 1000 >= 10 * s.fetch_wait_ms
