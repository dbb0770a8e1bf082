"""The request loops of bench/loadgen.py, run inside each generator process on uvloop.

One `_Conn` per keep-alive connection (an asyncio Protocol feeding httptools' C parser); a run
hands requests to idle connections and records, per request, its index, latency and status.
Open loop: a scheduler wakes at most once a millisecond (uvloop's timer resolution; waking more
often would spin a core the server needs) and hands out every request that is due; a request
finding no idle connection waits in a queue, its clock already running. Closed loop: each
connection sends the next request from inside the callback that completed the previous one.
"""

from __future__ import annotations

import asyncio
import math
import resource
import sys
import time
from array import array
from collections import deque
from multiprocessing.connection import Connection
from typing import Literal, TypedDict, cast

import httptools
import uvloop

TICK_S = 0.001  # the scheduler's shortest sleep: uvloop rounds timers to whole milliseconds
YIELD_EVERY = 64  # requests handed out back to back at most, when behind schedule
NO_ANSWER = 0  # the status recorded for a request without a response (lost, or past the deadline)


class Job(TypedDict):
    """One child's share of a run: requests i = first, first + step, ... (target i % len)."""

    mode: Literal["open", "closed"]
    port: int
    requests: list[bytes]
    connections: int
    first: int
    step: int
    rate: float  # open loop: requests/s of the whole run (all children)
    count: int  # open loop: requests of the whole run
    grace_s: float  # open loop: how long after the last due time answers are awaited
    seconds: float  # closed loop: how long requests are sent


class _Conn(asyncio.Protocol):
    """A keep-alive connection carrying one request at a time."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.index = -1  # the request in flight, -1 when idle
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: not a subclass

    def send(self, index: int) -> None:
        assert self.transport is not None
        self.index = index
        self.sent_at = time.perf_counter()
        self.transport.write(self.run.requests[index % len(self.run.requests)])

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()  # connection_lost records the request as failed

    def on_message_complete(self) -> None:  # httptools callback
        self.run.completed(self, self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self.run.lost(self)


class _Run:
    """What both loops share: connections, results, the end of the run."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.requests = job["requests"]
        self.idle: deque[_Conn] = deque()  # oldest first: round robin keeps every connection
        # younger than the server's keep-alive timeout (uvicorn: 5 s) down to len(idle)/5 req/s
        self.index, self.latency, self.status = array("q"), array("d"), array("H")
        self.start = 0.0
        self.last_answer = 0.0
        self.stopping = False
        self.replacing: set[asyncio.Future[None]] = set()  # reconnections under way
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: _Conn(self), "127.0.0.1", self.job["port"])
        return conn

    def record(self, index: int, latency_s: float, status: int) -> None:
        self.index.append(index)
        self.latency.append(latency_s)
        self.status.append(status)

    def completed(self, conn: _Conn, status: int) -> None:
        raise NotImplementedError

    def lost(self, conn: _Conn) -> None:
        """A connection closed: its request in flight failed; a new connection replaces it."""
        if conn.index >= 0:
            self.failed(conn.index)
            conn.index = -1
        elif conn in self.idle:
            self.idle.remove(conn)
        if not self.stopping:
            task = asyncio.ensure_future(self._replace())
            self.replacing.add(task)
            task.add_done_callback(self.replacing.discard)

    async def _replace(self) -> None:
        try:
            conn = await self.connect()
        except OSError:
            return  # the deadline counts what is left as failed
        self.free(conn)

    def failed(self, index: int) -> None:
        raise NotImplementedError

    def free(self, conn: _Conn) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stopping = True
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()


class _OpenRun(_Run):
    def __init__(self, job: Job) -> None:
        super().__init__(job)
        self.mine = range(job["first"], job["count"], job["step"])
        self.queue: deque[int] = deque()
        self.busy: set[_Conn] = set()
        self.lags = array("d")

    def due(self, index: int) -> float:
        return self.start + index / self.job["rate"]

    def free(self, conn: _Conn) -> None:
        if self.queue:
            self.busy.add(conn)
            conn.send(self.queue.popleft())
        else:
            self.busy.discard(conn)
            self.idle.append(conn)

    def completed(self, conn: _Conn, status: int) -> None:
        now = time.perf_counter()
        self.record(conn.index, now - self.due(conn.index), status)
        self.last_answer = now
        conn.index = -1
        self.free(conn)
        self._check_done()

    def failed(self, index: int) -> None:
        self.record(index, time.perf_counter() - self.due(index), NO_ANSWER)
        self._check_done()

    def lost(self, conn: _Conn) -> None:
        self.busy.discard(conn)
        super().lost(conn)

    def _check_done(self) -> None:
        if len(self.index) >= len(self.mine) and not self.finished.done():
            self.finished.set_result(None)

    async def go(self) -> None:
        for n, index in enumerate(self.mine):
            now = time.perf_counter()
            due = self.due(index)
            if due > now:
                await asyncio.sleep(max(TICK_S, due - now))
            elif n % YIELD_EVERY == 0:  # behind schedule: still let answers in
                await asyncio.sleep(0)
            self.lags.append(time.perf_counter() - due)
            if self.idle:
                conn = self.idle.popleft()
                self.busy.add(conn)
                conn.send(index)
            else:
                self.queue.append(index)
        last_due = self.due(self.mine[-1]) if self.mine else self.start
        left = last_due + self.job["grace_s"] - time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.shield(self.finished), max(0.0, left))
        except TimeoutError:  # unanswered by the deadline: failed
            self.stopping = True
            for conn in list(self.busy):
                if conn.index >= 0:
                    self.failed(conn.index)
                    conn.index = -1
            while self.queue:
                self.failed(self.queue.popleft())
        self.stopping = True
        for conn in self.busy:
            if conn.transport is not None:
                conn.transport.close()
        self.close()

    def lag_p99(self) -> float:
        lags = sorted(self.lags)
        return lags[max(0, math.ceil(0.99 * len(lags)) - 1)] if lags else 0.0


class _ClosedRun(_Run):
    def __init__(self, job: Job) -> None:
        super().__init__(job)
        self.next_index = job["first"]
        self.stop_at = 0.0
        self.active = 0

    def _send_next(self, conn: _Conn) -> None:
        index, self.next_index = self.next_index, self.next_index + self.job["step"]
        conn.send(index)

    def free(self, conn: _Conn) -> None:
        if time.perf_counter() < self.stop_at:
            self._send_next(conn)
        else:
            self.idle.append(conn)
            self.active -= 1
            if self.active <= 0 and not self.finished.done():
                self.finished.set_result(None)

    def completed(self, conn: _Conn, status: int) -> None:
        now = time.perf_counter()
        self.record(conn.index, now - conn.sent_at, status)
        self.last_answer = now
        conn.index = -1
        self.free(conn)

    def failed(self, index: int) -> None:
        self.record(index, 0.0, NO_ANSWER)

    def lost(self, conn: _Conn) -> None:
        if conn.index >= 0 or conn not in self.idle:
            self.active -= 1  # the replacement, if any, counts itself in again
        super().lost(conn)

    async def _replace(self) -> None:
        if time.perf_counter() < self.stop_at:
            self.active += 1
            try:
                conn = await self.connect()
            except OSError:
                self.active -= 1
                return
            self.free(conn)
        elif self.active <= 0 and not self.finished.done():
            self.finished.set_result(None)

    async def go(self, conns: list[_Conn]) -> None:
        self.stop_at = self.start + self.job["seconds"]
        self.idle.clear()
        self.active = len(conns)
        for conn in conns:
            self._send_next(conn)
        try:
            await asyncio.wait_for(asyncio.shield(self.finished), self.job["seconds"] + 30)
        finally:
            self.close()


def main(fd: int) -> None:
    """A generator process (bench/loadgen.py starts it): read its Job from the socket `fd`,
    connect, say "ready", wait for the common start time, run, send back the results."""
    pipe = Connection(fd)
    job: Job = pipe.recv()
    try:
        pipe.send(uvloop.run(_main(job, pipe)))
    except Exception as exc:  # the parent waits on this socket: tell it, then fail
        pipe.send(f"{type(exc).__name__}: {exc}")
        raise


async def _main(job: Job, pipe: Connection) -> dict[str, object]:
    run: _OpenRun | _ClosedRun = _OpenRun(job) if job["mode"] == "open" else _ClosedRun(job)
    conns = [await run.connect() for _ in range(job["connections"])]
    run.idle.extend(conns)
    pipe.send("ready")
    run.start = float(pipe.recv())  # blocking is fine: nothing is in flight yet
    await asyncio.sleep(max(0.0, run.start - time.perf_counter()))
    cpu_before = _cpu_s()
    if isinstance(run, _OpenRun):
        await run.go()
        lag = run.lag_p99()
    else:
        await run.go(conns)
        lag = 0.0
    return {
        "index": run.index.tobytes(),
        "latency": run.latency.tobytes(),
        "status": run.status.tobytes(),
        "elapsed": max(run.last_answer, run.start) - run.start,
        "cpu": _cpu_s() - cpu_before,
        "lag_p99": lag,
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main(int(sys.argv[1]))
