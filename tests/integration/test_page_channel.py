"""The page calls' connection (projections/pages/channel.py) against the real Valkey: the replies
and errors redis-py gives for the same commands, each caller its own reply under concurrency,
a lost or silent connection failing its waiting calls as redis-py would and the next call
connecting again, and the client's close closing it."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from redis import exceptions as errors
from redis.asyncio import Redis

from infra.settings import Settings
from infra.stack import Stack
from projections.pages.channel import channel_of

pytestmark = pytest.mark.stack
_keys = itertools.count()


async def raw(client: Redis, *command: Any) -> Any:
    """What redis-py reads for `command`, before any response callback of its commands."""
    conn = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await conn.send_command(*command)
        return await conn.read_response()
    finally:
        await client.connection_pool.release(conn)


def plain(reply: Any) -> Any:
    """A reply with its error objects as (class, message), comparable."""
    if isinstance(reply, list):
        return [plain(item) for item in reply]
    return (type(reply), str(reply)) if isinstance(reply, Exception) else reply


async def test_replies_and_errors_are_redis_pys(stack: Stack, settings: Settings) -> None:
    client = Redis.from_url(settings.redis)
    try:
        channel = channel_of(client)
        assert channel is not None
        key = f"test:channel:{next(_keys)}"
        await client.hset(key, mapping={"a": "1", "b": "é"})
        await client.rpush(key + ":l", "x", "", "z")
        commands = [
            ("PING",), ("ECHO", "ünï\x00"), ("HGETALL", key), ("HGET", key, "none"),
            ("LRANGE", key + ":l", 0, -1), ("EXISTS", key, key + ":l", "nothing"),
            ("EVAL", "return {1, 'two', {3, false}, redis.error_reply('ERR inner')}", 0),
        ]  # fmt: skip
        for command in commands:
            assert plain(await channel.call(*command)) == plain(await raw(client, *command))
        failing = [
            ("FCALL_RO", "no_such_function", 0),
            ("HGET", key),  # wrong number of arguments
            ("LPUSH", key, "x"),  # WRONGTYPE
            ("EVAL", "return redis.error_reply('NOSCRIPT made up')", 0),
        ]
        for command in failing:
            with pytest.raises(errors.ResponseError) as theirs:
                await raw(client, *command)
            with pytest.raises(errors.ResponseError) as ours:
                await channel.call(*command)
            assert type(ours.value) is type(theirs.value)
            assert str(ours.value) == str(theirs.value)
        assert await channel.call("PING") == b"PONG"  # an error leaves the connection usable
    finally:
        await client.aclose()


async def test_each_caller_gets_its_own_reply(stack: Stack, settings: Settings) -> None:
    client = Redis.from_url(settings.redis)
    try:
        channel = channel_of(client)
        assert channel is not None
        payloads = [str(i).encode() * (i % 7 * 3000 + 1) for i in range(300)]
        replies = await asyncio.gather(*(channel.call("ECHO", p) for p in payloads))
        assert replies == payloads
        assert channel_of(client) is channel  # one per client
    finally:
        await client.aclose()


async def test_a_killed_connection_fails_its_calls_and_the_next_connects(
    stack: Stack, settings: Settings, redis: Redis
) -> None:
    client = Redis.from_url(settings.redis)
    try:
        channel = channel_of(client)
        assert channel is not None
        ident = await channel.call("CLIENT", "ID")
        waiting = asyncio.create_task(channel.call("BLPOP", f"test:channel:{next(_keys)}", 5))
        await asyncio.sleep(0.1)
        assert await redis.client_kill_filter(_id=str(ident)) == 1
        with pytest.raises(errors.ConnectionError):
            await waiting
        assert await channel.call("ECHO", "again") == b"again"
        assert await channel.call("CLIENT", "ID") != ident
    finally:
        await client.aclose()


async def test_a_silent_server_times_out_and_the_next_call_connects(
    stack: Stack, settings: Settings
) -> None:
    client = Redis.from_url(settings.redis, socket_timeout=0.3)
    try:
        channel = channel_of(client)
        assert channel is not None
        key = f"test:channel:{next(_keys)}"
        slow = asyncio.create_task(channel.call("BLPOP", key, 2))
        behind = asyncio.create_task(channel.call("PING"))  # answered only after the BLPOP
        for call in (slow, behind):
            with pytest.raises(errors.TimeoutError):
                await call
        assert await channel.call("PING") == b"PONG"
    finally:
        await client.aclose()


async def test_the_clients_close_closes_it(stack: Stack, settings: Settings) -> None:
    client = Redis.from_url(settings.redis)
    channel = channel_of(client)
    assert channel is not None
    assert await channel.call("PING") == b"PONG"
    link = channel._link
    assert link is not None
    await client.aclose()
    assert link.closed
    assert link._transport.is_closing()


def test_clients_it_cannot_serve_use_redis_py(settings: Settings) -> None:
    assert channel_of(Redis.from_url(settings.redis, decode_responses=True)) is None
    assert channel_of(Redis.from_url(settings.redis, single_connection_client=True)) is None
    assert channel_of(Redis.from_url(settings.redis, protocol=3)) is None
    assert channel_of(Redis.from_url("unix:///tmp/valkey.sock")) is None
    assert channel_of(Redis.from_url("rediss://127.0.0.1:1")) is None
