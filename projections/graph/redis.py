"""Redis adapter of the users/graph projection: writer, UserReader and GraphReader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

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
from projections.graph.relations import Relation
from projections.ports import Page, Position
from projections.writes import (
    MarkCelebrity,
    PutUser,
    SetAvatar,
    SetBlock,
    SetFollow,
    SetFollowRequest,
    SetMute,
    SetPrivacy,
    SetProfile,
    Write,
    seq_key,
)
from schemas.media import AVATAR_SIZES

AVATAR_FIELDS = tuple(f"avatar_{size}" for size in AVATAR_SIZES)  # object keys of the squares
USER_FIELDS = ("username", "avatar_url", "created_ms", "display_name", "bio", *AVATAR_FIELDS)


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
        k = self.keys
        self._request_templates = [
            template(key_of) for key_of in (
                k.user, k.followers, k.followers_versions, k.following, k.following_versions,
                k.requests, k.request_records, k.request_answers, k.requested, k.privacy,
                k.celebrities_followed,
            )
        ] + [k.celebrities()]  # fmt: skip  # graph.lua follow_requests' ARGV head

    async def apply(self, writes: Sequence[Write]) -> None:
        """One function call per kind of write for the whole batch (per hash slot on a cluster;
        one per flagged user), in that order, all in one round trip."""
        hashes = CallBatch()
        members = CallBatch()
        k = self.keys
        edges: list[tuple[int, int]] = []
        flagged: list[int] = []
        steps: list[str | int] = []  # graph.lua follow_requests: kind, owner, other, seq, ms
        for w in writes:
            if isinstance(w, SetFollowRequest):
                steps += [w.kind, w.owner_id, w.requester_id, seq_key(w.seq), w.at_ms]
            elif isinstance(w, SetPrivacy):
                steps += ["privacy", w.user_id, "1" if w.private else "0", seq_key(w.seq), 0]
            elif isinstance(w, PutUser):
                fields: list[str | int] = ["username", w.username, "created_ms", w.created_ms]
                hashes.add([k.user(w.user_id)], ["_v_profile", seq_key(w.seq), 2, *fields])
            elif isinstance(w, SetAvatar):
                fields = ["avatar_url", w.avatar_url or ""]
                for i, name in enumerate(AVATAR_FIELDS):  # '' deletes: a cleared avatar
                    fields += [name, w.avatar_keys[i] if i < len(w.avatar_keys) else ""]
                n = len(fields) // 2
                hashes.add([k.user(w.user_id)], ["_v_avatar", seq_key(w.seq), n, *fields])
            elif isinstance(w, SetProfile):
                for name, value in (("display_name", w.display_name), ("bio", w.bio)):
                    if value is not None:  # each field its own guard; '' deletes it
                        hashes.add([k.user(w.user_id)], [f"_v_{name}", seq_key(w.seq), 1, name,
                                                         value])  # fmt: skip
            elif isinstance(w, SetFollow):
                v, present = seq_key(w.seq), "1" if w.active else "0"
                a, b = w.follower_id, w.followee_id
                members.add([k.following(a), k.following_versions(a)], [b, w.at_ms, v, present])
                members.add([k.followers(b), k.followers_versions(b)], [a, w.at_ms, v, present])
                edges.append((a, b))
            elif isinstance(w, SetBlock | SetMute):
                self._relation(members, w)
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
        if steps:  # last: its 'edge' steps read the edges written above
            calls.append(("follow_requests", [], [*self._request_templates, *steps]))
        await call_functions(self._r, calls)

    def _relation(self, members: CallBatch, w: SetBlock | SetMute) -> None:
        """A block or mute on both sides (each seq-guarded per pair: set_members_if_newer)."""
        k = self.keys
        if isinstance(w, SetBlock):
            a, b = w.blocker_id, w.blocked_id
            mine = [k.blocks(a), k.blocks_versions(a)]
            theirs = [k.blocked_by(b), k.blocked_by_versions(b)]
        else:
            a, b = w.muter_id, w.muted_id
            mine = [k.mutes(a), k.mutes_versions(a)]
            theirs = [k.muted_by(b), k.muted_by_versions(b)]
        v, on = seq_key(w.seq), "1" if w.active else "0"
        members.add(mine, [b, w.at_ms, v, on])
        members.add(theirs, [a, w.at_ms, v, on])

    async def users(self, ids: Sequence[int]) -> dict[int, UserView]:
        if not ids:
            return {}
        async with self._r.pipeline(transaction=False) as pipe:
            for uid in ids:
                pipe.hmget(self.keys.user(uid), *USER_FIELDS, "private")
            rows = await pipe.execute()
        return {
            uid: replace(user_view(uid, row[:-1]), private=bool(row[-1]))
            for uid, row in zip(ids, rows, strict=True) if row[0]
        }  # fmt: skip

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

    # --- blocks and mutes (projections/graph/relations.py) ----------------------------------------
    async def relations(self, viewer: int, others: Sequence[int]) -> dict[int, Relation]:
        """Three ZMSCOREs in the viewer's own keys, one round trip."""
        if not others:
            return {}
        members = [str(o) for o in others]
        k = self.keys
        async with self._r.pipeline(transaction=False) as pipe:
            for key in (k.blocks(viewer), k.blocked_by(viewer), k.mutes(viewer)):
                pipe.zmscore(key, members)
            blocks, blocked_by, mutes = await pipe.execute()
        return {
            o: Relation(blocks[i] is not None, blocked_by[i] is not None, mutes[i] is not None)
            for i, o in enumerate(others)
        }

    async def blocks(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._edges(self.keys.blocks(user_id), limit, after)

    async def mutes(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._edges(self.keys.mutes(user_id), limit, after)

    # --- follow requests (projections/graph/requests.py) -----------------------------------------
    async def follow_requests(self, owner: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._edges(self.keys.requests(owner), limit, after)

    async def requested(self, requester: int, owners: Sequence[int]) -> set[int]:
        if not owners:
            return set()
        async with self._r.pipeline(transaction=False) as pipe:
            for owner in owners:
                pipe.zscore(self.keys.requests(owner), requester)
            scores = await pipe.execute()
        return {o for o, s in zip(owners, scores, strict=True) if s is not None}

    async def requesters_before(self, owner: int, seq: int) -> list[int]:
        records = await self._r.hgetall(self.keys.request_records(owner))
        rows = {int(text(r)): text(v).split("|") for r, v in records.items()}
        ids = sorted(r for r, v in rows.items() if v[0] < seq_key(seq))
        if not ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for r in ids:
                pipe.zscore(self.keys.requests(owner), r)
                pipe.hget(self.keys.followers_versions(owner), r)
            found = await pipe.execute()
        pending, edges = found[0::2], found[1::2]
        return [
            r for r, p, e in zip(ids, pending, edges, strict=True)
            if p is not None or (e is not None and text(e) == rows[r][0])
        ]  # fmt: skip


def user_view(user_id: int, row: Sequence[bytes | str | None]) -> UserView:
    """A user hash's USER_FIELDS (username present) as a UserView; empty values are absent."""
    values = [text(v) if v else None for v in row]
    username, url, created, name, bio = values[: len(USER_FIELDS) - len(AVATAR_FIELDS)]
    squares = [v for v in values[len(USER_FIELDS) - len(AVATAR_FIELDS) :] if v]
    keys = tuple(squares) if len(squares) == len(AVATAR_FIELDS) else ()  # all three, or none
    return UserView(user_id, username or "", url, int(created or 0), name, bio, keys)
