"""The benchmarks' load generator (bench/loadgen.py) against a real HTTP server (uvicorn, on a free
port, serving a three-route ASGI app in a thread): failures are counted, and open-loop latency runs
from the scheduled time, so waiting behind a slow answer shows (no coordinated omission)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from bench.loadgen import Target, closed_loop, open_loop, request_bytes
from infra.ports import free_port_block

STALL_S = 0.3  # how long /stall holds its connection
RATE = 100.0  # open loop: request i is due at i * 10 ms


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """/ok: 200; /fail: 503; /stall: 200 after STALL_S."""
    if scope["path"] == "/stall":
        await asyncio.sleep(STALL_S)
    status = 503 if scope["path"] == "/fail" else 200
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port_block(1)
    config = uvicorn.Config(app, port=port, lifespan="off", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(10)


def test_every_non_2xx_answer_is_an_error(port: int) -> None:
    targets = [Target(request_bytes("/ok"), "ok"), Target(request_bytes("/fail"), "fail")]
    load = closed_loop(port, targets, 0.5, connections=4)
    failed = len(load.latencies_s("fail"))
    assert failed > 0
    assert load.errors == failed
    assert load.failures() == {"s503": failed}


def test_open_loop_latency_counts_the_wait_behind_a_stalled_answer(port: int) -> None:
    """One connection: requests 1-10 fall due while /stall holds it. Timed from their own send
    they would take ~1 ms; timed from when they were due, at least STALL_S - 100 ms."""
    targets = [Target(request_bytes("/stall"), "stall")]
    targets += [Target(request_bytes("/ok"), "during") for _ in range(10)]
    targets += [Target(request_bytes("/ok"), "after") for _ in range(49)]
    load = open_loop(port, targets, RATE, len(targets), connections=1)
    assert (load.count, load.errors) == (60, 0)
    assert min(load.latencies_s("during")) >= STALL_S - 10 / RATE - 0.01
    # the schedule was kept, not compressed (a millisecond of slack: the clocks are read apart)
    assert load.elapsed_s >= (len(targets) - 1) / RATE - 0.001
