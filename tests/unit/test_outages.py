"""Outages as 503s (classification, the dispatcher's answer), dependency states, readiness checks
with their bound, and the timeouts the clients are built with. Pure: no stack."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import redis.exceptions
import urllib3.exceptions
from minio.error import ServerError
from starlette.requests import Request
from starlette.responses import Response

from gateway.app import ROUTES, openapi_document
from gateway.asgi import Dispatcher, Route
from gateway.health import Readiness
from gateway.idempotency_store import LEASE_S
from gateway.openapi import UNAVAILABLE
from gateway.outages import (
    BROKER,
    LOG_UNAVAILABLE,
    RETRY_AFTER_S,
    S3,
    STORE_UNAVAILABLE,
    VALKEY,
    DependencyStates,
    outage_of,
    unavailable,
)
from infra.clients import make_minio, make_redis
from infra.kafka import DELIVERY_GRACE_S, POLL_INTERVAL_S, AppendError, producer_config
from infra.settings import Settings

# classification --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "dependency", "code"),
    [
        (redis.exceptions.ConnectionError("Error 111 connecting"), VALKEY, STORE_UNAVAILABLE),
        (redis.exceptions.TimeoutError("Timeout reading"), VALKEY, STORE_UNAVAILABLE),
        (redis.exceptions.BusyLoadingError("loading"), VALKEY, STORE_UNAVAILABLE),
        (urllib3.exceptions.MaxRetryError(None, "/b", None), S3, STORE_UNAVAILABLE),  # type: ignore[arg-type]
        (urllib3.exceptions.ReadTimeoutError(None, "/b", "read"), S3, STORE_UNAVAILABLE),  # type: ignore[arg-type]
        (ServerError("503 SlowDown", 503), S3, STORE_UNAVAILABLE),
        (AppendError("Local: Message timed out"), BROKER, LOG_UNAVAILABLE),
        (TimeoutError(), None, STORE_UNAVAILABLE),
        (ConnectionRefusedError(111, "refused"), None, STORE_UNAVAILABLE),
    ],
)  # fmt: skip
def test_outages_are_named_with_their_dependency(
    exc: Exception, dependency: str | None, code: str
) -> None:
    outage = outage_of(exc)
    assert outage is not None
    assert (outage.dependency, outage.code) == (dependency, code)
    assert type(exc).__name__ in outage.detail


@pytest.mark.parametrize(
    "exc",
    [ValueError("x"), KeyError("k"), redis.exceptions.ResponseError("WRONGTYPE"),
     redis.exceptions.NoScriptError("NOSCRIPT"), RuntimeError("boom")],
)  # fmt: skip
def test_other_failures_are_not_outages(exc: Exception) -> None:
    assert outage_of(exc) is None


def test_an_explicit_cause_is_followed_but_an_incidental_context_is_not() -> None:
    wrapped = RuntimeError("wrapped")  # raise RuntimeError(...) from ConnectionError(...)
    wrapped.__cause__ = redis.exceptions.ConnectionError("down")
    found = outage_of(wrapped)
    assert found is not None
    assert found.dependency == VALKEY
    unrelated = ValueError("a bug while handling it")  # raised in an except block, no `from`
    unrelated.__context__ = redis.exceptions.ConnectionError("down")
    assert outage_of(unrelated) is None


def test_an_optional_driver_outage_is_matched_by_name() -> None:
    NoHostAvailable = type("NoHostAvailable", (Exception,), {"__module__": "cassandra.cluster"})
    NotAnOutage = type("NoHostAvailable", (Exception,), {"__module__": "mylib"})
    assert outage_of(NoHostAvailable("all down")) is not None
    assert outage_of(NotAnOutage("x")) is None


def test_the_answer_is_503_with_retry_after_and_the_safe_next_step() -> None:
    log = unavailable(outage_of(AppendError("timed out")))  # type: ignore[arg-type]
    assert (log.status, log.code, log.headers) == (
        503, LOG_UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})  # fmt: skip
    assert "Idempotency-Key" in log.message
    store = unavailable(outage_of(redis.exceptions.ConnectionError()))  # type: ignore[arg-type]
    assert (store.status, store.code) == (503, STORE_UNAVAILABLE)
    assert "projection store" in store.message


# the dispatcher --------------------------------------------------------------------------------


def _raising(exc: Exception) -> Any:
    async def endpoint(_request: Request) -> Response:
        raise exc

    return endpoint


async def _get(app: Dispatcher, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(path)


async def test_the_dispatcher_answers_an_outage_with_503_and_marks_the_dependency() -> None:
    app = Dispatcher([
        Route("GET", "/valkey", _raising(redis.exceptions.ConnectionError("refused"))),
        Route("GET", "/bug", _raising(ZeroDivisionError("oops"))),
    ])  # fmt: skip
    r = await _get(app, "/valkey")
    assert r.status_code == 503
    assert r.headers["retry-after"] == str(RETRY_AFTER_S)
    assert r.json()["error"]["code"] == STORE_UNAVAILABLE
    state = app.dependencies.snapshot()[VALKEY]
    assert state["state"] == "down"
    assert "refused" in str(state["error"])
    bug = await _get(app, "/bug")
    assert (bug.status_code, bug.json()["error"]["code"]) == (500, "internal")


def test_dependency_states_start_unknown_and_keep_the_last_observation() -> None:
    states = DependencyStates()
    assert {s["state"] for s in states.snapshot().values()} == {"unknown"}
    states.mark(BROKER, False, "no answer")
    states.mark(BROKER, True)
    snap = states.snapshot()
    assert snap[BROKER]["state"] == "up"
    assert "error" not in snap[BROKER]
    assert snap[VALKEY] == {"state": "unknown", "checked_at": None}


# readiness -------------------------------------------------------------------------------------


async def test_readiness_bounds_each_check_runs_them_concurrently_and_records_states() -> None:
    calls = {"valkey": 0}
    never = asyncio.Event()

    async def hangs() -> None:
        await never.wait()

    async def fails() -> None:
        raise redis.exceptions.ConnectionError("refused")

    async def answers() -> None:
        calls["valkey"] += 1

    states = DependencyStates()
    readiness = Readiness({BROKER: hangs, S3: hangs, VALKEY: answers}, states, timeout_s=0.3)
    started = time.monotonic()
    first, second = await asyncio.gather(readiness.check(), readiness.check())
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 0.55  # one bound for all, not one per check
    assert first == second
    assert calls["valkey"] == 1  # concurrent callers share one run
    assert not first[BROKER].ok
    assert "no answer" in str(first[BROKER].error)
    assert first[VALKEY].ok
    assert states.snapshot()[S3]["state"] == "down"

    readiness = Readiness({VALKEY: fails}, states, timeout_s=0.3)
    result = (await readiness.check())[VALKEY]
    assert not result.ok
    assert "ConnectionError" in str(result.error)
    assert states.snapshot()[VALKEY]["state"] == "down"


# client bounds -----------------------------------------------------------------------------------


def test_the_producer_gives_up_on_an_event_at_the_dependency_timeout() -> None:
    config = producer_config("b:9092", Settings().dependency_timeout_s)
    assert config["message.timeout.ms"] == int(Settings().dependency_timeout_s * 1000)
    assert config["request.timeout.ms"] <= config["message.timeout.ms"]
    assert config["acks"] == "all"
    assert producer_config("b:9092", 0.2)["message.timeout.ms"] == 1000  # librdkafka's floor
    assert DELIVERY_GRACE_S > 1.0 + POLL_INTERVAL_S  # librdkafka scans for timeouts each second


async def test_the_gateway_redis_client_is_bounded_by_the_dependency_timeout() -> None:
    client = make_redis(Settings(), timeout_s=1.5)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 1.5
    assert kwargs["socket_connect_timeout"] <= 1.5
    await client.aclose()


def test_the_gateway_s3_client_is_bounded_by_the_dependency_timeout() -> None:
    http = make_minio(Settings(), timeout_s=2.0)._http
    timeout = http.connection_pool_kw["timeout"]
    assert (timeout.connect_timeout, timeout.read_timeout) == (1.0, 2.0)
    assert http.connection_pool_kw["retries"].total == 1


def test_a_pending_idempotency_lease_outlasts_a_request_of_bounded_calls() -> None:
    assert 5 * Settings().dependency_timeout_s < LEASE_S


# documentation -----------------------------------------------------------------------------------


def test_every_operation_documents_503_and_the_system_routes_are_documented() -> None:
    doc = openapi_document()
    served = {r.path for r in ROUTES}
    for path in ("/healthz", "/readyz"):
        assert path in served
        assert doc["paths"][path]["servers"] == [{"url": "/"}]
    ready = doc["paths"]["/readyz"]["get"]["responses"]
    assert set(ready) == {"200", "503"}
    for path, ops in doc["paths"].items():
        if path in ("/healthz", "/readyz"):
            continue
        for op in ops.values():
            assert UNAVAILABLE in op["responses"]["503"]["description"], (path, op)
