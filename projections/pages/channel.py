"""The page calls' own Valkey connection: one per client, requests pipelined, replies in order.

A page is one FCALL (projections/pages/redis.py), and redis-py's general path around one command
(pool checkout, a task and a timer per write, a stream reader and a timer per read, retry and
observability hooks) cost ~120 us of gateway CPU per feed page, more than the rest of the
request; this costs ~35 us (measured on a 2-core machine, 16 KB replies). A connection is borrowed
from the client's own pool for good (as a PubSub holds one), so the pool still connects it
(address, ACL user, database, timeouts) and closes it with the client, and its socket is read by
a small protocol instead: the commands of one loop iteration go out in one write, and each reply
that arrives settles the oldest call waiting (Valkey answers one connection's commands in
order), so one read serves as many calls as the bytes hold.

The answers are redis-py's: replies parsed by hiredis as redis-py does (the same error classes),
no retries (as the clients of infra/clients.py), each call bounded by the pool's socket timeout
(`TimeoutError`), a lost connection failing the calls waiting on it (`ConnectionError`) and the
next call connecting again. A client this cannot serve (TLS, a unix socket, RESP3, decoded
replies, a single-connection client) gets None from `channel_of`: its calls go through redis-py.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import hiredis
from redis._parsers import BaseParser  # its error classes: the exceptions redis-py raises
from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

CLOSED = "Connection closed by server."  # redis-py's words for the same event
_channels: weakref.WeakKeyDictionary[ConnectionPool, Channel] = weakref.WeakKeyDictionary()


def channel_of(redis: Redis) -> Channel | None:
    """The channel of `redis`'s pool (one per pool), or None when its calls must go through
    redis-py (see the module docstring)."""
    pool = redis.connection_pool
    kwargs = pool.connection_kwargs
    cls = pool.connection_class
    if (
        redis.single_connection_client
        or not isinstance(cls, type)
        or not issubclass(cls, Connection)
        or issubclass(cls, SSLConnection)
        or kwargs.get("decode_responses")
        or kwargs.get("protocol", 2) not in (2, "2", None)
    ):
        return None
    found = _channels.get(pool)
    if found is None:
        found = _channels[pool] = Channel(pool)
    return found


class Channel:
    """Calls on one borrowed connection, reopened after it is lost or timed out."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._link: _Link | None = None
        self._lock: asyncio.Lock | None = None
        timeout = pool.connection_kwargs.get("socket_timeout")
        self._timeout_s: float | None = float(timeout) if timeout else None

    async def call(self, *args: Any) -> Any:
        """The reply of one command (`args` as redis-py's execute_command takes them)."""
        link = self._link
        if link is None or link.closed or link.loop is not asyncio.get_running_loop():
            link = await self._open()
        return await link.call(hiredis.pack_command(args), self._timeout_s)

    async def _open(self) -> _Link:
        loop = asyncio.get_running_loop()
        if self._lock is None or (self._link is not None and self._link.loop is not loop):
            self._lock = asyncio.Lock()  # a new loop (tests): the old one's lock is not usable
        async with self._lock:
            old = self._link
            if old is not None and not old.closed and old.loop is loop:
                return old  # opened by a call that held the lock before this one
            self._link = None
            if old is not None and old.loop is loop:
                await old.retire(self._pool)
            checkout: Callable[[], Awaitable[AbstractConnection]] = self._pool.get_connection
            conn = await checkout()  # connected and checked by the pool (untyped in redis-py)
            try:
                link = _Link(conn, loop)
            except BaseException:
                await self._pool.release(conn)
                raise
            self._link = link
            return link


class _Link(asyncio.Protocol):
    """One connection's socket under this protocol: the calls waiting, oldest first."""

    def __init__(self, conn: AbstractConnection, loop: asyncio.AbstractEventLoop) -> None:
        writer = getattr(conn, "_writer", None)  # redis-py's StreamWriter of the connection
        if not isinstance(writer, asyncio.StreamWriter):
            raise RedisConnectionError("the connection has no stream to take over")
        self.conn = conn
        self.loop = loop
        self.closed = False
        self._where = f"{getattr(conn, 'host', '?')}:{getattr(conn, 'port', '?')}"
        self._transport = writer.transport
        self._inner = self._transport.get_protocol()  # redis-py's, told when the socket closes
        self._reader = hiredis.Reader(
            protocolError=InvalidResponse, replyError=BaseParser.parse_error
        )
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._unsent: list[bytes] = []  # commands of this loop iteration, written at its end
        self._transport.set_protocol(self)

    async def call(self, packed: bytes, timeout_s: float | None) -> Any:
        if self.closed:
            raise RedisConnectionError(CLOSED)
        future: asyncio.Future[Any] = self.loop.create_future()
        self._waiting.append(future)
        if not self._unsent:
            self.loop.call_soon(self._send)
        self._unsent.append(packed)
        if timeout_s is None:
            return await future
        timer = self.loop.call_later(timeout_s, self._expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _send(self) -> None:
        """The commands the requests served in one loop iteration asked for, in one write."""
        unsent, self._unsent = self._unsent, []
        if not self.closed:
            self._transport.write(b"".join(unsent) if len(unsent) > 1 else unsent[0])

    def data_received(self, data: bytes) -> None:
        reader, waiting = self._reader, self._waiting
        reader.feed(data)
        while True:
            try:
                reply = reader.gets()
            except Exception as exc:  # not RESP: nothing after it can be trusted
                self._close(RedisConnectionError(f"Protocol error from {self._where}: {exc}"))
                return
            if reply is False:
                return
            if not waiting:  # a reply nobody asked for: the stream is out of step
                self._close(RedisConnectionError(f"Unexpected reply from {self._where}"))
                return
            future = waiting.popleft()
            if future.done():  # its caller gave up (cancelled): the reply is dropped
                continue
            if isinstance(reply, ResponseError | RedisConnectionError):
                future.set_exception(reply)
            elif isinstance(reply, list) and reply and isinstance(reply[0], RedisConnectionError):
                future.set_exception(reply[0])
            else:
                future.set_result(reply)

    def eof_received(self) -> bool:
        return False  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(CLOSED if exc is None else f"{CLOSED} {exc}"))
        self._inner.connection_lost(exc)  # redis-py's disconnect waits for this

    def _expire(self, future: asyncio.Future[Any]) -> None:
        """No reply within the timeout: the ones behind it cannot come sooner (replies come in
        order), so every waiting call fails, and the next one connects again."""
        if not future.done():
            self._close(RedisTimeoutError(f"Timeout reading from {self._where}"))

    def _close(self, error: Exception) -> None:
        self._fail(error)
        self._transport.abort()

    def _fail(self, error: Exception) -> None:
        self.closed = True
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)

    async def retire(self, pool: ConnectionPool) -> None:
        """Give the connection back, closed: the pool connects it again when next used."""
        self._close(RedisConnectionError(CLOSED))
        try:
            await self.conn.disconnect(nowait=True)
        finally:
            await pool.release(self.conn)
