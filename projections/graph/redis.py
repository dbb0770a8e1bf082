"""Redis adapter of the users/graph projection: writer, UserReader and GraphReader."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from projections.backends.keys import template
from projections.backends.redis_batch import (
    CallBatch,
    FunctionCall,
    call_functions,
    page_before,
    text,
)
from projections.graph.keys import GraphKeys
from projections.graph.ports import Edge, GraphCounts, UserView, edges_page
from projections.ports import Page, Position
from projections.writes import (
    MarkCelebrity,
    PutUser,
    SetAvatar,
    SetFollow,
    Write,
    seq_key,
)


class RedisGraph:
    """One version of the graph group in one Redis (users, follow edges, and the celebrities each
    user follows). Its writes are functions of photofeed_versioned (projections/backends/
    versioned.lua) and photofeed_graph (graph.lua beside it), its pages photofeed_pages'."""

    def __init__(self, redis: Redis, version: int, cluster: bool = False) -> None:
        self._r = redis
        self._cluster = cluster
        self.version = version
        self.keys = GraphKeys(version)
        self._celebrities_followed = template(self.keys.celebrities_followed)

    async def apply(self, writes: Sequence[Write]) -> None:
        """One function call per kind of write for the whole batch (per hash slot on a cluster;
        one per flagged user), in that order, all in one round trip."""
        hashes = CallBatch()
        members = CallBatch()
        k = self.keys
        edges: list[tuple[int, int]] = []
        flagged: list[int] = []
        for w in writes:
            if isinstance(w, PutUser):
                fields: list[str | int] = ["username", w.username, "created_ms", w.created_ms]
                hashes.add([k.user(w.user_id)], ["_v_profile", seq_key(w.seq), 2, *fields])
            elif isinstance(w, SetAvatar):
                fields = ["avatar_url", w.avatar_url or ""]
                hashes.add([k.user(w.user_id)], ["_v_avatar", seq_key(w.seq), 1, *fields])
            elif isinstance(w, SetFollow):
                v, present = seq_key(w.seq), "1" if w.active else "0"
                a, b = w.follower_id, w.followee_id
                members.add([k.following(a), k.following_versions(a)], [b, w.at_ms, v, present])
                members.add([k.followers(b), k.followers_versions(b)], [a, w.at_ms, v, present])
                edges.append((a, b))
            elif isinstance(w, MarkCelebrity):
                flagged.append(w.user_id)
        calls: list[FunctionCall] = [
            ("set_fields_if_newer", keys, args) for keys, args in hashes.groups(self._cluster)
        ]
        calls += [
            ("set_members_if_newer", keys, args) for keys, args in members.groups(self._cluster)
        ]
        calls += [
            ("flag_celebrity", [k.celebrities(), k.followers(user)],
             [user, self._celebrities_followed])
            for user in flagged
        ]  # fmt: skip
        if edges:
            keys = [k.celebrities()]
            for a, _ in edges:
                keys += [k.following(a), k.celebrities_followed(a)]
            calls.append(("sync_celebrities_followed", keys, [b for _, b in edges]))
        await call_functions(self._r, calls)

    async def users(self, ids: Sequence[int]) -> dict[int, UserView]:
        if not ids:
            return {}
        async with self._r.pipeline(transaction=False) as pipe:
            for uid in ids:
                pipe.hmget(self.keys.user(uid), "username", "avatar_url", "created_ms")
            rows = await pipe.execute()
        out = {}
        for uid, (username, avatar, created) in zip(ids, rows, strict=True):
            if username is not None:
                out[uid] = UserView(
                    uid, text(username), text(avatar) if avatar else None, int(created)
                )
        return out

    async def followers(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._edges(self.keys.followers(user_id), limit, after)

    async def following(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._edges(self.keys.following(user_id), limit, after)

    async def _edges(self, key: str, limit: int, after: Position | None) -> Page[Edge]:
        rows = await page_before(self._r, key, limit + 1, after)
        return edges_page([Edge(member, score) for member, score in rows], limit)

    async def counts(self, ids: Sequence[int]) -> dict[int, GraphCounts]:
        async with self._r.pipeline(transaction=False) as pipe:
            for uid in ids:
                pipe.zcard(self.keys.followers(uid))
                pipe.zcard(self.keys.following(uid))
            rows = await pipe.execute()
        return {uid: GraphCounts(rows[2 * i], rows[2 * i + 1]) for i, uid in enumerate(ids)}

    async def follows(self, follower_id: int, candidates: Sequence[int]) -> set[int]:
        if not candidates:
            return set()
        members = [str(c) for c in candidates]
        scores = await self._r.zmscore(self.keys.following(follower_id), members)
        return {c for c, s in zip(candidates, scores, strict=True) if s is not None}
