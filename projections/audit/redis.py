"""Counter audit over the Redis projections: reads the source sets, compares, repairs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis

from projections.audit.logic import (
    FOLLOWER_COUNT,
    FOLLOWING_COUNT,
    LIKE_COUNT,
    Drift,
    Edge,
    EdgeSide,
    confirmed,
    count_drift,
    edge_truth,
    expected_likes,
    graph_counts,
    stale_sides,
)
from projections.backends.redis_batch import text
from projections.engagement.keys import EngagementKeys
from projections.graph.keys import GraphKeys

SCAN_COUNT = 1000  # keys per SCAN step and per pipelined read
_TAG = re.compile(r"\{(\d+)\}")

Sides = tuple[dict[Edge, EdgeSide], dict[Edge, EdgeSide]]


class RedisCounterAudit:
    """Audits the active versions it is given; `on_progress(keys_read)` reports scanning."""

    def __init__(
        self,
        redis: Redis,
        graph_version: int,
        engagement_version: int,
        on_progress: Callable[[int], None] = lambda n: None,
    ) -> None:
        self._r = redis
        self._graph = GraphKeys(graph_version)
        self._eng = EngagementKeys(engagement_version)
        self._progress = on_progress
        self._read = 0

    async def audit(self) -> list[Drift]:
        """Drifts that two consecutive passes agree on (live writes cannot fake those)."""
        return confirmed(await self.one_pass(), await self.one_pass())

    async def one_pass(self) -> list[Drift]:
        return await self.like_drift() + await self.graph_drift()

    async def like_drift(self) -> list[Drift]:
        entries = [
            (int(post), text(value)[:1] == "1")
            async for _, h in self._hashes(f"{self._eng.prefix}:u:*:liked")
            for post, value in h.items()
        ]
        stored = {
            _id(key): int(h.get(b"likes", 0))
            async for key, h in self._hashes(f"{self._eng.prefix}:p:*", post_hash=True)
        }
        return count_drift(LIKE_COUNT, stored, expected_likes(entries))

    async def graph_drift(self) -> list[Drift]:
        following, followers = await self._graph_sides()
        expected_followers, expected_following = graph_counts(edge_truth(following, followers))
        stored_following: dict[int, int] = {}
        stored_followers: dict[int, int] = {}
        for (a, _), side in following.items():
            stored_following[a] = stored_following.get(a, 0) + side.present
        for (_, b), side in followers.items():
            stored_followers[b] = stored_followers.get(b, 0) + side.present
        return count_drift(FOLLOWER_COUNT, stored_followers, expected_followers) + count_drift(
            FOLLOWING_COUNT, stored_following, expected_following
        )

    async def repair(self, drifts: list[Drift]) -> int:
        """Fix what `audit` found: like counts move by their delta (so likes landing meanwhile
        stay counted); stale sides of follow edges take the newer side's state. Returns the
        number of writes."""
        writes = 0
        async with self._r.pipeline(transaction=False) as pipe:
            for d in drifts:
                if d.counter == LIKE_COUNT:
                    pipe.hincrby(self._eng.post(d.entity), "likes", d.delta)
                    writes += 1
            if any(d.counter != LIKE_COUNT for d in drifts):
                following, followers = await self._graph_sides()
                for side, (a, b), truth in stale_sides(following, followers):
                    self._fix_edge(pipe, side, a, b, truth)
                    writes += 1
            await pipe.execute()
        return writes

    def _fix_edge(self, pipe: Any, side: str, a: int, b: int, truth: EdgeSide) -> None:
        g = self._graph
        if side == "following":
            key, versions, member = g.following(a), g.following_versions(a), b
        else:
            key, versions, member = g.followers(b), g.followers_versions(b), a
        if truth.present:
            pipe.zadd(key, {str(member): truth.at_ms})
        else:
            pipe.zrem(key, str(member))
        pipe.hset(versions, str(member), truth.version)

    async def _graph_sides(self) -> Sides:
        g = self._graph
        following: dict[Edge, EdgeSide] = {}
        followers: dict[Edge, EdgeSide] = {}
        for name, sides in (("following", following), ("followers", followers)):
            async for key, versions in self._hashes(f"{g.prefix}:u:*:{name}:v"):
                user = _id(key)
                rows: Any = await self._r.zrange(text(key)[:-2], 0, -1, withscores=True)
                members: dict[bytes, float] = dict(rows)
                for other, version in versions.items():
                    score = members.get(other)
                    edge = (user, int(other)) if name == "following" else (int(other), user)
                    sides[edge] = EdgeSide(score is not None, text(version), int(score or 0))
        return following, followers

    async def _hashes(
        self, pattern: str, post_hash: bool = False
    ) -> AsyncIterator[tuple[bytes, dict[bytes, bytes]]]:
        """(key, content) of every hash matching `pattern` (with `post_hash`, only keys that end
        at the hash tag: a post's own hash, not its comment sets)."""
        batch: list[bytes] = []
        async for key in self._r.scan_iter(match=pattern, count=SCAN_COUNT, _type="HASH"):
            if not post_hash or key.endswith(b"}"):
                batch.append(key)
            if len(batch) >= SCAN_COUNT:
                for item in await self._read_hashes(batch):
                    yield item
                batch = []
        for item in await self._read_hashes(batch):
            yield item

    async def _read_hashes(self, keys: list[bytes]) -> list[tuple[bytes, dict[bytes, bytes]]]:
        async with self._r.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            values = await pipe.execute()
        self._read += len(keys)
        self._progress(self._read)
        return list(zip(keys, values, strict=True))


def _id(key: bytes | str) -> int:
    found = _TAG.search(text(key))
    if found is None:
        raise ValueError(f"no id tag in {key!r}")
    return int(found.group(1))
