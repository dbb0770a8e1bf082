"""Dependency outages on a private stack (the session's stack keeps running): with Valkey, the
broker or S3 stopped, the gateway answers 503 + Retry-After within the dependency timeout,
`/healthz` stays 200 and reports the dependency down, `/readyz` names it; after a restart it
serves again, and every write it acknowledged is in the log — and only those.

The broker keeps its log on SeaweedFS (`s3://`) here, so the log survives its restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from infra.kafka import create_topics
from infra.ports import settings_on_free_ports
from infra.processes import ManagedProcess, wait_until
from infra.readiness import gateway_healthy
from infra.settings import Settings
from infra.stack import Stack
from infra.topics import USERS
from replay.reader import LogReader
from schemas import events as ev
from schemas.codec import default_codec
from tests.fixtures import READY_TIMEOUT_S, app_process, bearer, eventually, register, unique

pytestmark = pytest.mark.stack
SLACK_S = 2.5  # librdkafka scans timeouts each second (+1 s) and a busy 2-core box adds ~1 s
RECOVERY_S = 60.0  # a restarted service answers, and the gateway's clients reconnect


@dataclass(frozen=True)
class Private:
    settings: Settings
    stack: Stack
    gateway: ManagedProcess

    @property
    def bound_s(self) -> float:
        return self.settings.dependency_timeout_s + SLACK_S

    def stop(self, service: str) -> None:
        assert self.stack.services[service].process.stop(), f"{service} was not running"

    def restart(self) -> None:
        self.stack.up()  # starts what is down, waits until healthy

    def freeze(self, service: str, frozen: bool) -> None:
        """SIGSTOP / SIGCONT this stack's own process: a hung dependency that keeps its port
        open and its connections up, but never answers."""
        pid = self.stack.services[service].process.pid()
        assert pid is not None, f"{service} is not running"
        os.killpg(pid, signal.SIGSTOP if frozen else signal.SIGCONT)


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    settings = settings_on_free_ports(
        tmp_path_factory.mktemp("outages"), tansu_storage="s3", topic_partitions=1,
        token_secret="outage-secret-" + "y" * 40, log_json=True,
    )  # fmt: skip
    stack = Stack(settings)
    stack.up()
    gateway = app_process(settings, "gateway", "gateway")
    try:
        create_topics(settings.bootstrap, partitions=settings.topic_partitions)
        gateway.start()
        if not wait_until(lambda: gateway_healthy(settings), READY_TIMEOUT_S, 0.1):
            raise RuntimeError("gateway did not start:\n" + gateway.log_tail())
        yield Private(settings, stack, gateway)
    finally:
        gateway.stop()
        stack.down()


@pytest.fixture
async def client(private: Private) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's root (/healthz, /readyz)."""
    async with httpx.AsyncClient(base_url=private.settings.gateway_url, timeout=30) as c:
        yield c


@pytest.fixture
async def api(private: Private) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=private.settings.gateway_url + "/api/v1",
                                 timeout=30) as c:  # fmt: skip
        yield c


async def timed(request: Any, what: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    elapsed = time.monotonic() - started
    print(f"MEASURED {what}: {response.status_code} in {elapsed:.3f} s")  # for the record (-s)
    return response, elapsed


def assert_unavailable(r: httpx.Response, code: str) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == code
    assert int(r.headers["retry-after"]) >= 1


async def dependency(client: httpx.AsyncClient, name: str) -> str:
    health = await client.get("/healthz")
    assert health.status_code == 200  # alive whatever its dependencies do
    state: str = health.json()["dependencies"][name]["state"]
    return state


def registrations(settings: Settings) -> list[ev.UserRegistered]:
    codec = default_codec()
    return [
        e for batch in LogReader(settings.bootstrap, [USERS.name]).batches()
        for r in batch if isinstance(e := codec.decode(r.value), ev.UserRegistered)
    ]  # fmt: skip


def registered_ids(settings: Settings) -> set[int]:
    return {e.actor_id for e in registrations(settings)}


def credentials() -> dict[str, str]:
    return {"username": unique(), "password": "correct horse"}


async def test_valkey_down_is_503_within_the_bound_then_recovers(
    private: Private, client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    mine = credentials()
    _, token = await register(api, mine["username"], projected=False)
    other, _ = await register(api, projected=False)
    private.stop("valkey")
    try:
        calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {  # command side: no worker
            "valkey down, POST sessions": lambda: api.post("/sessions", json=mine),
            "valkey down, POST follow": lambda: api.post(f"/follow/{other}",
                                                         headers=bearer(token)),
            "valkey down, keyed POST users": lambda: api.post(
                "/users", json=credentials(), headers={"Idempotency-Key": str(uuid.uuid4())}),
            "valkey down, GET feed": lambda: api.get("/feed", headers=bearer(token)),  # one call
        }  # fmt: skip
        for what, call in calls.items():
            response, elapsed = await timed(call(), what)
            assert_unavailable(response, "store_unavailable")
            assert elapsed < private.bound_s, elapsed
        assert await dependency(client, "valkey") == "down"
        ready, elapsed = await timed(client.get("/readyz"), "valkey down, /readyz")
        assert ready.status_code == 503
        assert elapsed < private.bound_s
        checks = ready.json()["checks"]
        assert checks["valkey"]["ok"] is False
        assert checks["broker"]["ok"] is True
        assert checks["s3"]["ok"] is True
    finally:
        private.restart()
    await eventually(lambda: api.post("/sessions", json=mine), lambda r: r.status_code == 200,
                     timeout_s=RECOVERY_S)  # fmt: skip
    follow = await api.post(f"/follow/{other}", headers=bearer(token))
    assert follow.status_code == 204
    assert (await api.get("/feed", headers=bearer(token))).status_code == 200
    await eventually(lambda: client.get("/readyz"), lambda r: r.status_code == 200)
    assert await dependency(client, "valkey") == "up"


async def test_broker_down_is_503_within_the_bound_and_no_write_is_a_phantom(
    private: Private, client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    earlier = registered_ids(private.settings)  # the other tests' accounts
    before = await api.post("/users", json=credentials())
    assert before.status_code == 201
    acknowledged = {int(before.json()["user_id"])}
    retried, key = credentials(), str(uuid.uuid4())
    private.stop("tansu")
    try:
        failed, elapsed = await timed(api.post("/users", json=credentials()),
                                      "broker down, POST users")  # fmt: skip
        assert_unavailable(failed, "log_unavailable")
        assert "Idempotency-Key" in failed.json()["error"]["message"]
        assert elapsed < private.bound_s, elapsed
        # one keyed attempt holds the key while the log is silent: its duplicate is 409
        keyed = {"Idempotency-Key": key}
        both = await asyncio.gather(*(api.post("/users", json=retried, headers=keyed)
                                      for _ in range(2)))  # fmt: skip
        busy, waited = sorted(both, key=lambda r: r.status_code)
        assert busy.status_code == 409, busy.text
        assert busy.json()["error"]["code"] == "request_in_progress"
        assert int(busy.headers["retry-after"]) >= 1
        assert_unavailable(waited, "log_unavailable")
        assert await dependency(client, "broker") == "down"
        ready, _ = await timed(client.get("/readyz"), "broker down, /readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"]["ok"] is False
        assert ready.json()["checks"]["valkey"]["ok"] is True
    finally:
        private.restart()
    # the client retries its keyed registration until the log is back: one account, at last
    again = await eventually(
        lambda: api.post("/users", json=retried, headers={"Idempotency-Key": key}),
        lambda r: r.status_code != 503, timeout_s=RECOVERY_S,
    )  # fmt: skip
    assert again.status_code == 201, again.text
    acknowledged.add(int(again.json()["user_id"]))
    replay = await api.post("/users", json=retried, headers={"Idempotency-Key": key})
    assert replay.json() == again.json()
    after = await api.post("/users", json=credentials())
    assert after.status_code == 201
    acknowledged.add(int(after.json()["user_id"]))
    assert registered_ids(private.settings) - earlier == acknowledged  # every 2xx, nothing else
    await eventually(lambda: client.get("/readyz"), lambda r: r.status_code == 200)


async def test_a_hung_valkey_is_503_within_the_bound(
    private: Private, client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    mine = credentials()
    _, token = await register(api, mine["username"], projected=False)
    assert (await api.get("/feed", headers=bearer(token))).status_code == 200
    private.freeze("valkey", True)
    try:
        response, elapsed = await timed(api.post("/sessions", json=mine),
                                        "valkey hung, POST sessions")  # fmt: skip
        assert_unavailable(response, "store_unavailable")
        assert elapsed < private.bound_s, elapsed
        response, elapsed = await timed(api.get("/feed", headers=bearer(token)),
                                        "valkey hung, GET feed")  # fmt: skip
        assert_unavailable(response, "store_unavailable")
        assert elapsed < private.bound_s, elapsed
        ready, elapsed = await timed(client.get("/readyz"), "valkey hung, /readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["valkey"]["ok"] is False
        assert elapsed < private.bound_s, elapsed
    finally:
        private.freeze("valkey", False)
    await eventually(lambda: api.post("/sessions", json=mine), lambda r: r.status_code == 200,
                     timeout_s=RECOVERY_S)  # fmt: skip
    await eventually(lambda: api.get("/feed", headers=bearer(token)),
                     lambda r: r.status_code == 200, timeout_s=RECOVERY_S)  # fmt: skip


async def test_a_hung_broker_is_503_within_the_bound_and_a_keyed_retry_is_one_event(
    private: Private, api: httpx.AsyncClient
) -> None:
    """A produce request the broker holds may still be written after the client was told 503
    (acks=all without idempotence); the Idempotency-Key retry reuses its ids, so the log holds
    one event at most twice, under one event id, and projections apply it once."""
    body, key = credentials(), {"Idempotency-Key": str(uuid.uuid4())}
    private.freeze("tansu", True)
    try:
        response, elapsed = await timed(api.post("/users", json=body, headers=key),
                                        "broker hung, keyed POST users")  # fmt: skip
        assert_unavailable(response, "log_unavailable")
        assert elapsed < private.bound_s, elapsed
    finally:
        private.freeze("tansu", False)
    again = await eventually(lambda: api.post("/users", json=body, headers=key),
                             lambda r: r.status_code != 503, timeout_s=RECOVERY_S)  # fmt: skip
    assert again.status_code == 201, again.text
    user = int(again.json()["user_id"])
    logged = [e for e in registrations(private.settings) if e.actor_id == user]
    print(f"MEASURED broker hung: the keyed registration is logged {len(logged)} time(s)")
    assert 1 <= len(logged) <= 2
    assert len({e.event_id for e in logged}) == 1


async def test_s3_down_is_503_within_the_bound_then_recovers(
    private: Private, client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    _, token = await register(api, projected=False)
    ticket = {"filename": "p.png", "content_type": "image/png", "size_bytes": 100}
    started = await api.post("/photos", json=ticket, headers=bearer(token))
    assert started.status_code == 200, started.text
    complete = f"/photos/{started.json()['photo_id']}/complete"
    private.stop("seaweedfs")
    try:
        response, elapsed = await timed(api.post(complete, headers=bearer(token)),
                                        "s3 down, POST complete")  # fmt: skip
        assert_unavailable(response, "store_unavailable")
        assert "object store" in response.json()["error"]["message"]
        assert elapsed < private.bound_s, elapsed
        ready, _ = await timed(client.get("/readyz"), "s3 down, /readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["s3"]["ok"] is False
        assert await dependency(client, "s3") == "down"
    finally:
        private.restart()
    nothing = await eventually(lambda: api.post(complete, headers=bearer(token)),
                               lambda r: r.status_code != 503, timeout_s=RECOVERY_S)  # fmt: skip
    assert nothing.status_code == 409  # S3 answers again: nothing was uploaded
    assert nothing.json()["error"]["code"] == "not_uploaded"
