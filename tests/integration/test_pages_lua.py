"""The read library's own formatting against the Python it mirrors, on the real Valkey: times
(leap days, century ends, whole seconds and single milliseconds), JSON escaping of user text,
and ids beyond a Lua number's exact range."""

from __future__ import annotations

import itertools

import orjson
import pytest
from redis.asyncio import Redis

from infra.settings import Settings
from infra.stack import Stack
from projections.engagement.keys import EngagementKeys
from projections.feeds.cards import rfc3339
from projections.feeds.keys import FeedKeys
from projections.graph.keys import GraphKeys
from projections.pages.redis import RedisPages

pytestmark = pytest.mark.stack
_versions = itertools.count(70_000)
TIMES = [0, 1, 999, 1000, 951_782_400_000, 951_868_799_999, 4_102_444_799_999,
         1_767_225_600_000, 1_796_031_779_838, 253_402_300_799_999]  # fmt: skip
TEXTS = ['say "hi" \\ </script>', "ünïcødé ✓ 🌅", "tab\tnew\nline\x01", "", "0" * 500]


async def test_comment_times_and_texts_read_as_python_writes_them(
    stack: Stack, settings: Settings
) -> None:
    redis = Redis.from_url(settings.redis)
    try:
        v = next(_versions)
        pages = RedisPages(redis, v, v, v)
        post, user = 9_223_372_036_854_775_000, 9_223_372_036_854_775_001  # > 2^53
        await redis.hset(FeedKeys(v).post(post), mapping={"author_id": user})
        await redis.hset(GraphKeys(v).user(user), mapping={"username": "ana"})
        e = EngagementKeys(v)
        rows = list(enumerate(itertools.product(TIMES, TEXTS)))
        for i, (ms, text) in rows:
            comment = 10**18 + i
            await redis.hset(e.comment(comment), mapping={
                "post_id": post, "commenter_id": user, "text": text, "created_ms": ms})  # fmt: skip
            await redis.zadd(e.comments(post), {str(comment): ms})
        reply = await pages.comments(post, None, 100, None)
        assert reply.status == "ok"
        got = {int(c["comment_id"]) - 10**18: c for c in orjson.loads(reply.posts)}
        assert len(got) == len(rows)
        for i, (ms, text) in rows:
            assert got[i]["created_at"] == rfc3339(ms), ms
            assert got[i]["text"] == text
            assert got[i]["post_id"] == str(post)
            assert got[i]["user"] == {"user_id": str(user), "username": "ana",
                                      "display_name": None, "avatar_url": None,
                                      "private": False}  # fmt: skip
    finally:
        await redis.aclose()
