"""The failure policy without I/O: classification, the outage budget, bisection to the poison
message, dead-letter headers, and the supervisor's restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis.exceptions

from infra.kafka import AppendError
from schemas.codec import DecodeError
from streams.deadletters import Consumed, headers_for, parse
from streams.failures import Failed, Failure, RetryPolicy, kind_of
from streams.guard import Guard
from streams.health import CRASH_LIMIT, AgentHealth, supervise


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[Consumed, Failure]] = []

    async def send(self, item: Consumed, failure: Failure) -> None:
        self.sent.append((item, failure))


def items(n: int) -> list[Consumed]:
    return [Consumed("t", 0, i, b"k", bytes([i])) for i in range(n)]


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        redis.exceptions.ConnectionError("down"),
        redis.exceptions.TimeoutError("slow"),
        redis.exceptions.BusyLoadingError("loading"),
        AppendError("refused"),
    ],
)
def test_dependency_failures_are_outages(exc: Exception) -> None:
    assert kind_of(exc) == "outage"


@pytest.mark.parametrize(
    "exc",
    [
        TypeError("object of type 'NoneType' has no len()"),
        DecodeError("corrupt"),
        KeyError("x"),
        ValueError("bad seal"),
        redis.exceptions.ResponseError("ERR Error running script"),  # a script bug, not outage
    ],
)
def test_everything_else_is_bad_input(exc: Exception) -> None:
    assert kind_of(exc) == "bad_input"


def test_a_wrapped_outage_is_an_outage() -> None:
    outer = RuntimeError("while writing")
    outer.__cause__ = ConnectionResetError("peer")
    assert kind_of(outer) == "outage"


async def test_outage_is_retried_with_backoff_until_it_passes() -> None:
    fake, calls = FakeClock(), []

    async def step() -> str:
        calls.append(fake.now)
        if len(calls) < 4:
            raise redis.exceptions.ConnectionError("down")
        return "ok"

    policy = RetryPolicy(60, sleep=fake.sleep, clock=fake.clock)
    assert await policy.run("s", step) == "ok"
    assert fake.slept == [0.1, 0.2, 0.4]


async def test_outage_past_the_budget_fails_as_outage() -> None:
    fake = FakeClock()

    async def step() -> None:
        raise ConnectionRefusedError()

    policy = RetryPolicy(30, sleep=fake.sleep, clock=fake.clock)
    with pytest.raises(Failed) as caught:
        await policy.run("s", step)
    assert caught.value.failure.kind == "outage"
    assert fake.now <= 30
    assert caught.value.failure.attempts == len(fake.slept) + 1 > 5


async def test_bad_input_fails_at_once() -> None:
    fake = FakeClock()

    async def step() -> None:
        raise TypeError("None")

    with pytest.raises(Failed) as caught:
        await RetryPolicy(30, sleep=fake.sleep, clock=fake.clock).run("s", step)
    assert (caught.value.failure.kind, caught.value.failure.attempts, fake.slept) == (
        "bad_input", 1, []
    )  # fmt: skip


async def test_guard_isolates_each_poison_message_and_applies_the_rest_in_order() -> None:
    poison = {3, 4, 11}
    applied: list[int] = []

    async def step(batch: Sequence[Consumed]) -> None:
        if any(i.offset in poison for i in batch):
            raise TypeError("poison")
        applied.extend(i.offset for i in batch)

    letters = Letters()
    fake = FakeClock()
    guard = Guard(RetryPolicy(10, sleep=fake.sleep, clock=fake.clock), letters)
    dead = await guard.run("project", items(16), step)
    assert dead == 3
    assert sorted(i.offset for i, _ in letters.sent) == sorted(poison)
    assert applied == [o for o in range(16) if o not in poison]  # each once, in order
    assert all(f.kind == "bad_input" and f.error_class == "TypeError" for _, f in letters.sent)


async def test_guard_dead_letters_the_batch_when_the_outage_outlasts_the_budget() -> None:
    async def step(batch: Sequence[Consumed]) -> None:
        raise ConnectionRefusedError()

    letters, fake = Letters(), FakeClock()
    guard = Guard(RetryPolicy(5, sleep=fake.sleep, clock=fake.clock), letters)
    assert await guard.run("project", items(4), step) == 4
    assert {f.kind for _, f in letters.sent} == {"outage"}
    assert fake.now <= 5  # bounded: the partition moves on


def test_dead_letter_headers_round_trip() -> None:
    item = Consumed("photofeed.engagement", 2, 41, b"7", None)
    failure = Failure("bad_input", TypeError("no len()"), 1, "decode")
    h = headers_for(item, failure, "project_photofeed_engagement", 1_700_000_000_000)
    letter = parse(9, item.key, item.value, h)
    assert (letter.id, letter.source_topic, letter.source_partition, letter.source_offset) == (
        9, "photofeed.engagement", 2, 41
    )  # fmt: skip
    assert (letter.agent, letter.stage, letter.reason, letter.error_class, letter.error) == (
        "project_photofeed_engagement", "decode", "bad_input", "TypeError", "no len()"
    )  # fmt: skip
    assert (letter.attempts, letter.at_ms, letter.value) == (1, 1_700_000_000_000, None)


async def test_supervisor_restarts_a_crashed_agent_with_backoff() -> None:
    runs, fake, health = [], FakeClock(), AgentHealth()

    async def run() -> None:
        runs.append(fake.now)
        if len(runs) < CRASH_LIMIT:
            raise RuntimeError("stream broke")

    gave_up: list[str] = []
    await supervise("a", run, health, gave_up.append, fake.sleep, fake.clock)
    assert (len(runs), gave_up) == (CRASH_LIMIT, [])
    assert fake.slept == [0.5, 1.0][: CRASH_LIMIT - 1]
    assert health.of("a").crashes == CRASH_LIMIT - 1
    assert health.of("a").state == "running"


async def test_supervisor_gives_up_on_a_crash_loop() -> None:
    fake, health = FakeClock(), AgentHealth()
    gave_up: list[str] = []

    async def run() -> None:
        raise RuntimeError("always")

    await supervise("a", run, health, gave_up.append, fake.sleep, fake.clock)
    assert len(gave_up) == 1
    assert "crashed 3 times" in gave_up[0]
    assert health.of("a").state == "crashed"


async def test_supervisor_lets_cancellation_through() -> None:
    async def run() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await supervise("a", run, AgentHealth(), lambda _r: None)


def test_snapshot_reports_lag_from_the_log_end() -> None:
    health = AgentHealth()
    health.batch_done("a", {("t", 0): 10, ("t", 1): 5}, 15, 1.0)
    health.dead_lettered("a", "t", "bad_input")
    snap = health.snapshot(lambda topic, p: {0: 12, 1: None}[p])
    parts = snap["a"]["partitions"]
    assert [(p["partition"], p["lag"]) for p in parts] == [(0, 2), (1, None)]
    assert snap["a"]["dead_lettered"] == [{"topic": "t", "reason": "bad_input", "count": 1}]
