"""HTTP/1.1 load for the benchmarks: open loop at a fixed rate, or closed loop at full speed.

Open loop (latency at a rate): request i is due at `start + i / rate` whatever became of the
earlier ones, and its latency runs from that due moment to the end of its response. Time spent
queued (behind a slow response at the server, or here waiting for a free connection) therefore
counts: no coordinated omission, wrk2's correction applied by construction. Closed loop (max
throughput): each connection sends its next request as soon as the previous answer is complete.

Built so the generator is not what is measured: requests are pre-built bytes on keep-alive
connections opened before the clock starts, responses are parsed by httptools (C), nothing is
allocated per request beyond a few array slots, and the load runs in child processes with their
own uvloop, `processes` of them sharing the rate. Each child reports its CPU time
(`Load.client_cpu_s`) and, in open loop, how late its timer fired (`Load.schedule_lag_p99_s`), so a
bench can show the generator kept up. Every status outside 200-299 is an error, and so is a
request whose connection was lost or that had no answer by the deadline.

The request loops live in bench/loadgen_conn.py; this module runs them in processes and merges
their results.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_MARGIN_S = 0.2  # children start together this long after the last one is connected
READY_TIMEOUT_S = 30.0  # for the children to connect (the target is up, it should be ms)


@dataclass(frozen=True, slots=True)
class Target:
    """One request, pre-built (`request_bytes`); `tag` groups it in the results."""

    request: bytes
    tag: str = ""


def request_bytes(path: str, token: str | None = None, host: str = "127.0.0.1") -> bytes:
    """A keep-alive GET of `path` (with its query), with a bearer token when given."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode("ascii")


@dataclass(frozen=True, slots=True)
class Load:
    """What a run did: per completed-or-failed request, which request it was (`index`: targets
    cycle, so target `index % len(targets)`), its latency and its HTTP status (0: no answer)."""

    tags: tuple[str, ...]  # tag of each target
    index: array[int]
    latency_s: array[float]
    status: array[int]
    elapsed_s: float
    client_cpu_s: float
    schedule_lag_p99_s: float  # open loop: how late requests left, at the 99th percentile

    @property
    def count(self) -> int:
        return len(self.index)

    @property
    def errors(self) -> int:
        return sum(1 for s in self.status if not 200 <= s < 300)

    @property
    def rate(self) -> float:
        """Requests answered per second of the run (errors included: see `errors`)."""
        return self.count / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def client_cpu_us_per_request(self) -> float:
        return 1e6 * self.client_cpu_s / self.count if self.count else math.nan

    def failures(self) -> dict[str, float]:
        """Failed requests by status (`s0`: no answer), e.g. for an INFO line."""
        counts = Counter(s for s in self.status if not 200 <= s < 300)
        return {f"s{status}": n for status, n in sorted(counts.items())}

    def latencies_s(self, *tags: str) -> list[float]:
        """Sorted latencies of the requests with one of `tags` (every request when none)."""
        n = len(self.tags)
        wanted = set(tags)
        picked = (
            lat
            for i, lat in zip(self.index, self.latency_s, strict=True)
            if not wanted or self.tags[i % n] in wanted
        )
        return sorted(picked)

    def percentile_ms(self, q: float, *tags: str) -> float:
        """The q-th percentile (0-100, nearest rank) of the latencies of `tags`, in ms."""
        values = self.latencies_s(*tags)
        if not values:
            return math.nan
        rank = max(0, math.ceil(q / 100 * len(values)) - 1)
        return values[rank] * 1000


def open_loop(
    port: int,
    targets: Sequence[Target],
    rate: float,
    count: int,
    *,
    connections: int = 64,
    processes: int = 1,
    grace_s: float = 30.0,
) -> Load:
    """`count` requests at `rate` per second (target i % len(targets) for request i), on
    `connections` keep-alive connections split over `processes` children. Requests still
    unanswered `grace_s` after the last one was due are errors."""
    plan = {"mode": "open", "rate": rate, "count": count, "grace_s": grace_s}
    return _run(port, targets, plan, connections, processes)


def closed_loop(
    port: int,
    targets: Sequence[Target],
    seconds: float,
    *,
    connections: int = 32,
    processes: int = 1,
) -> Load:
    """As many requests as `connections` keep-alive connections get answered in `seconds`,
    each sent when its connection's previous answer is complete."""
    plan = {"mode": "closed", "seconds": seconds}
    return _run(port, targets, plan, connections, processes)


def _run(
    port: int,
    targets: Sequence[Target],
    plan: dict[str, object],
    connections: int,
    processes: int,
) -> Load:
    """Start `processes` children (`python -m bench.loadgen_conn`, so they import only the
    generator, not the bench that calls it), each on its own socketpair, then run them together."""
    requests = [t.request for t in targets]
    pipes: list[Connection] = []
    children: list[subprocess.Popen[bytes]] = []
    try:
        for k in range(processes):
            mine, theirs = socket.socketpair()
            share = connections // processes + (1 if k < connections % processes else 0)
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen_conn", str(theirs.fileno())],
                cwd=ROOT,
                pass_fds=[theirs.fileno()],
            )
            theirs.close()
            children.append(child)
            pipes.append(Connection(mine.detach()))
            pipes[-1].send(
                {
                    **plan,
                    "port": port,
                    "requests": requests,
                    "connections": max(1, share),
                    "first": k,
                    "step": processes,
                }
            )
        for pipe in pipes:
            if not pipe.poll(READY_TIMEOUT_S) or pipe.recv() != "ready":
                raise RuntimeError("a load generator process did not connect")
        start = time.perf_counter() + START_MARGIN_S  # CLOCK_MONOTONIC: one clock for all
        for pipe in pipes:
            pipe.send(start)
        parts = [pipe.recv() for pipe in pipes]
        for part in parts:
            if not isinstance(part, dict):
                raise RuntimeError(f"a load generator process failed: {part}")
    except EOFError:
        raise RuntimeError("a load generator process exited (its error is above)") from None
    finally:
        for pipe in pipes:
            pipe.close()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return _merge(tuple(t.tag for t in targets), parts)


def _merge(tags: tuple[str, ...], parts: list[dict[str, object]]) -> Load:
    index, latency, status = array("q"), array("d"), array("H")
    lags: list[float] = []
    for part in parts:
        index.frombytes(_bytes(part["index"]))
        latency.frombytes(_bytes(part["latency"]))
        status.frombytes(_bytes(part["status"]))
        lags.append(float(_num(part["lag_p99"])))
    return Load(
        tags,
        index,
        latency,
        status,
        elapsed_s=max(float(_num(p["elapsed"])) for p in parts),
        client_cpu_s=sum(float(_num(p["cpu"])) for p in parts),
        schedule_lag_p99_s=max(lags),
    )


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes)
    return value


def _num(value: object) -> float:
    assert isinstance(value, int | float)
    return value
