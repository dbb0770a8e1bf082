"""Session fixtures over the real local stack (Tansu, SeaweedFS, Valkey): free ports, temp dirs.

Nothing is faked: the worker and the gateway run as the same processes `photofeed up` starts.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest
from redis.asyncio import Redis

from gateway.consistency import HEADER as POSITION
from infra.kafka import KafkaEventLog, create_topics
from infra.ports import settings_on_free_ports
from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.readiness import gateway_healthy, worker_joined
from infra.settings import Settings
from infra.stack import Stack
from schemas.codec import default_codec

T = TypeVar("T")
READY_TIMEOUT_S = 90.0


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool] = bool,
    timeout_s: float = 15.0,
    interval_s: float = 0.05,
) -> T:
    """Poll `probe` until `accept(value)`; fail with the last value when the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s; last value: {value!r}")
        await asyncio.sleep(interval_s)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_on_free_ports(
        tmp_path_factory.mktemp("photofeed"),
        tansu_storage="memory",
        celebrity_threshold=1_200,  # > the 1,000 followers of the deletion test's pushed post
        topic_partitions=3,
        token_secret="test-secret-" + "x" * 40,
        log_json=True,
        erasure_step_pause_s=0.3,  # so the erasure test can kill the worker mid-way
        # every test shares this gateway and 127.0.0.1: abuse limits far above any test's use
        # (tests/e2e/test_abuse_limits.py runs its own gateway with low ones)
        login_free_failures=100_000,
        login_address_free_failures=100_000,
        register_rate_per_hour=1_000_000,
        follow_rate_per_minute=100_000,
        like_rate_per_minute=100_000,
        comment_rate_per_minute=100_000,
    )


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings)
    stack.up()
    create_topics(settings.bootstrap, partitions=settings.topic_partitions)
    try:
        yield stack
    finally:
        stack.down()


def app_process(settings: Settings, name: str, *args: str) -> ManagedProcess:
    spec = ProcessSpec(name, [sys.executable, "-m", "photofeed", *args], settings.to_env())
    return ManagedProcess(spec, settings.data_dir / "run", settings.data_dir / "logs")


def await_worker_ready(settings: Settings, proc: ManagedProcess) -> None:
    """Block until the worker joined its group (it announces its partitions in Redis)."""
    pid = proc.pid()
    assert pid is not None, proc.log_tail()
    if not wait_until(lambda: worker_joined(settings, pid), READY_TIMEOUT_S):
        raise RuntimeError("worker did not join its group:\n" + proc.log_tail())


@pytest.fixture(scope="session")
def worker(stack: Stack, settings: Settings) -> Iterator[ManagedProcess]:
    proc = app_process(settings, "worker", "worker")
    proc.start()
    await_worker_ready(settings, proc)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def gateway(stack: Stack, settings: Settings) -> Iterator[str]:
    proc = app_process(settings, "gateway", "gateway")
    proc.start()

    if not wait_until(lambda: gateway_healthy(settings), READY_TIMEOUT_S, 0.1):
        raise RuntimeError("gateway did not start:\n" + proc.log_tail())
    try:
        yield f"{settings.gateway_url}/api/v1"
    finally:
        proc.stop()


@pytest.fixture(scope="session")
async def redis(stack: Stack, settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def event_log(stack: Stack, settings: Settings) -> AsyncIterator[KafkaEventLog]:
    log = KafkaEventLog(settings.bootstrap, default_codec())
    yield log
    log.close()


@pytest.fixture
async def api(gateway: str, worker: ManagedProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        yield client


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def register(
    api: httpx.AsyncClient, name: str | None = None, *, projected: bool = True
) -> tuple[str, str]:
    """Create an account and log in; return (user_id, bearer token). With `projected`, return
    once the worker applied the sign-up (reads that carry its position): the users topic has
    no order against the follows, posts and engagement a test writes next, and a user not yet
    projected is left out of every list. Without a worker, pass projected=False."""
    name = name or unique()
    created = await api.post("/users", json={"username": name, "password": "correct horse"})
    assert created.status_code == 201, created.text
    session = await api.post("/sessions", json={"username": name, "password": "correct horse"})
    assert session.status_code == 200, session.text
    user_id, token = created.json()["user_id"], session.json()["token"]
    if projected:
        waits = {**bearer(token), POSITION: created.headers[POSITION]}
        await eventually(lambda: api.get(f"/users/{user_id}", headers=waits),
                         lambda r: r.status_code == 200, timeout_s=30)  # fmt: skip
    return user_id, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count_records(settings: Settings, topic: str) -> int:
    """Messages in `topic` right now (read to the high watermark)."""
    from replay.reader import LogReader

    reader = LogReader(settings.bootstrap, [topic])
    return sum(len(b) for b in reader.batches())
