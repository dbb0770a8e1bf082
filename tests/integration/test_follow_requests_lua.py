"""The Redis adapter's follow requests (graph.lua `follow_requests`, through RedisGraph) end in
exactly the state of the pure state machine (projections/graph/requests.py), for worlds of
requests, answers, follows and privacy switches delivered in any order the group can receive
them, in batches of any size: registers, answers, pending list, both sides of every edge, the
user's private flag and the requesters' index."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from infra.settings import Settings
from infra.stack import Stack
from projections.backends.redis_batch import text
from projections.graph.keys import GraphKeys
from projections.graph.redis import RedisGraph
from projections.graph.requests import EdgeMark, PairBook, is_private
from schemas import events as ev
from tests.follow_requests_world import (
    OWNER,
    REQUESTERS,
    book_after,
    deliveries,
    graph_writes,
    worlds,
)

pytestmark = pytest.mark.stack


async def stored(redis: Redis, keys: GraphKeys) -> dict[str, Any]:
    """What Valkey holds for the owner and the requesters, in PairBook's terms."""

    def table(raw: dict[Any, Any]) -> dict[int, str]:
        return {int(text(k)): text(v) for k, v in raw.items()}

    records = table(await redis.hgetall(keys.request_records(OWNER)))
    answers = table(await redis.hgetall(keys.request_answers(OWNER)))
    rows: list[Any] = await redis.zrange(keys.requests(OWNER), 0, -1, withscores=True)
    pending = {int(m): int(s) for m, s in rows}
    edges = {}
    for r in REQUESTERS:
        seq = await redis.hget(keys.followers_versions(OWNER), str(r))
        score = await redis.zscore(keys.followers(OWNER), str(r))
        if seq is not None:
            edges[r] = (int(text(seq)), score is not None, int(score or 0))
        other_seq = await redis.hget(keys.following_versions(r), str(OWNER))
        other_score = await redis.zscore(keys.following(r), str(OWNER))
        assert (other_seq, other_score) == (seq, score), "both sides of the edge agree"
    private = await redis.hget(keys.user(OWNER), "private")
    requested = {r for r in REQUESTERS if await redis.sismember(keys.requested(r), str(OWNER))}
    return {"records": records, "answers": answers, "pending": pending, "edges": edges,
            "private": private is not None, "requested": requested}  # fmt: skip


def expected(book: PairBook) -> dict[str, Any]:
    """The same, from the pure state machine (the Lua encodings spelled out)."""

    def mark(e: EdgeMark | None) -> str:
        return "||" if e is None else f"{e.seq:019d}|{int(e.present)}|{e.at_ms}"

    return {
        "records": {r: f"{q.seq:019d}|{q.at_ms}|{mark(q.before)}" for r, q in
                    book.requests.items()},
        "answers": {r: " ".join(f"{a.seq:019d}|{int(a.approved)}" for a in answers)
                    for r, answers in book.answers.items()},
        "pending": book.pending,
        "edges": {r: (e.seq, e.present, e.at_ms) for r, e in book.edges.items()},
        "private": is_private(book.switches),
        "requested": set(book.requests) | set(book.answers),
    }  # fmt: skip


async def applied(url: str, events: Sequence[ev.Event], batch: int) -> dict[str, Any]:
    """The events' graph writes applied in batches to a fresh version; what it then holds."""
    redis = Redis.from_url(url)
    graph = RedisGraph(redis, random.randrange(10**6, 10**7))
    try:
        writes = graph_writes(events)
        for start in range(0, len(writes), batch):
            await graph.apply(writes[start : start + batch])
        return await stored(redis, graph.keys)
    finally:
        left = [k async for k in redis.scan_iter(match=graph.keys.pattern())]
        if left:
            await redis.delete(*left)
        await redis.aclose()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), events=worlds, batch=st.integers(1, 6))
def test_lua_ends_in_the_pure_state_machines_state(
    stack: Stack, settings: Settings, data: st.DataObject, events: list[ev.Event], batch: int
) -> None:
    delivered = data.draw(deliveries(events))
    assert asyncio.run(applied(settings.redis, delivered, batch)) == expected(book_after(events))
