"""Cassandra adapter of the users/graph projection: writer, UserReader and GraphReader.

Tables (infra/cassandra/graph.cql): `users` by id; `follow_edges` (follower -> followee: active,
followed_ms) is the state of each edge; `followers` and `following` are its two sorted indexes,
newest first, keyset-paged by (followed_ms, other id). A follow or unfollow reads its edge's state,
moves the edge's rows in both indexes (a re-follow changes followed_ms, the clustering key), then
writes the state, all at the event's timestamp (see cassandra_base).

Counts are COUNT(*) over a user's followers/following partition: exact and idempotent (Cassandra
counters are not), but a scan of the partition, so O(followers) per call; a celebrity's count is
worth caching by the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from projections.backends.cassandra import (
    CassandraStore,
    CassandraVersions,
    KeyspaceAdapter,
    Row,
    in_order,
    membership,
    write_timestamp,
)
from projections.graph.ports import Edge, GraphCounts, UserView, edges_page
from projections.ports import Page, Position
from projections.writes import PutUser, SetAvatar, SetFollow, Write

GROUP = "graph"
SCHEMA = "graph.cql"
IN_CHUNK = 100  # candidates per `IN` query of `follows`

PUT_USER = "UPDATE {ks}.users USING TIMESTAMP ? SET username = ?, created_ms = ? WHERE user_id = ?"
SET_AVATAR = "UPDATE {ks}.users USING TIMESTAMP ? SET avatar_url = ? WHERE user_id = ?"
USER = "SELECT user_id, username, created_ms, avatar_url FROM {ks}.users WHERE user_id = ?"
EDGE_STATE = (
    "SELECT active, WRITETIME(active) AS active_ts, followed_ms, "
    "WRITETIME(followed_ms) AS followed_ms_ts FROM {ks}.follow_edges "
    "WHERE follower_id = ? AND followee_id = ?"
)
FOLLOW_EDGE = (
    "UPDATE {ks}.follow_edges USING TIMESTAMP ? SET active = true, followed_ms = ? "
    "WHERE follower_id = ? AND followee_id = ?"
)
UNFOLLOW_EDGE = (
    "UPDATE {ks}.follow_edges USING TIMESTAMP ? SET active = false "
    "WHERE follower_id = ? AND followee_id = ?"
)
FOLLOWS = (
    "SELECT followee_id, active FROM {ks}.follow_edges WHERE follower_id = ? AND followee_id IN ?"
)
INSERT_FOLLOWER = (
    "INSERT INTO {ks}.followers (user_id, followed_ms, follower_id) VALUES (?, ?, ?) "
    "USING TIMESTAMP ?"
)
DELETE_FOLLOWER = (
    "DELETE FROM {ks}.followers USING TIMESTAMP ? "
    "WHERE user_id = ? AND followed_ms = ? AND follower_id = ?"
)
INSERT_FOLLOWING = (
    "INSERT INTO {ks}.following (user_id, followed_ms, followee_id) VALUES (?, ?, ?) "
    "USING TIMESTAMP ?"
)
DELETE_FOLLOWING = (
    "DELETE FROM {ks}.following USING TIMESTAMP ? "
    "WHERE user_id = ? AND followed_ms = ? AND followee_id = ?"
)
FOLLOWERS_FIRST = (
    "SELECT follower_id AS id, followed_ms FROM {ks}.followers WHERE user_id = ? LIMIT ?"
)
FOLLOWERS_AFTER = (
    "SELECT follower_id AS id, followed_ms FROM {ks}.followers "
    "WHERE user_id = ? AND (followed_ms, follower_id) < (?, ?) LIMIT ?"
)
FOLLOWING_FIRST = (
    "SELECT followee_id AS id, followed_ms FROM {ks}.following WHERE user_id = ? LIMIT ?"
)
FOLLOWING_AFTER = (
    "SELECT followee_id AS id, followed_ms FROM {ks}.following "
    "WHERE user_id = ? AND (followed_ms, followee_id) < (?, ?) LIMIT ?"
)
COUNT_FOLLOWERS = "SELECT COUNT(*) AS n FROM {ks}.followers WHERE user_id = ?"
COUNT_FOLLOWING = "SELECT COUNT(*) AS n FROM {ks}.following WHERE user_id = ?"
STATEMENTS = (
    PUT_USER, SET_AVATAR, USER, EDGE_STATE, FOLLOW_EDGE, UNFOLLOW_EDGE, FOLLOWS, INSERT_FOLLOWER,
    DELETE_FOLLOWER, INSERT_FOLLOWING, DELETE_FOLLOWING, FOLLOWERS_FIRST, FOLLOWERS_AFTER,
    FOLLOWING_FIRST, FOLLOWING_AFTER, COUNT_FOLLOWERS, COUNT_FOLLOWING,
)  # fmt: skip


def versions(
    store: CassandraStore, replication: int = 1, prefix: str = "photofeed"
) -> CassandraVersions:
    """The graph group's keyspaces (photofeed_graph_v<N>)."""
    return CassandraVersions(store, GROUP, SCHEMA, replication, prefix)


# --- rows -> views (pure) ------------------------------------------------------------------------
def user_view(user_id: int, row: Row | None) -> UserView | None:
    """A user row as a UserView; None when no PutUser reached it (an avatar alone is no user)."""
    if row is None or row.get("username") is None:
        return None
    return UserView(user_id, row["username"], row.get("avatar_url") or None,
                    int(row.get("created_ms") or 0))  # fmt: skip


def edge_page(rows: Sequence[Row], limit: int) -> Page[Edge]:
    """Up to `limit + 1` (id, followed_ms) rows, newest first, as a page and its cursor."""
    return edges_page([Edge(int(r["id"]), int(r["followed_ms"])) for r in rows], limit)


# --- the adapter ---------------------------------------------------------------------------------
class CassandraGraph(KeyspaceAdapter):
    """One version of the graph group."""

    async def apply(self, writes: Sequence[Write]) -> None:
        """Profile and avatar cells at once; each edge's writes in order, edges concurrently."""
        cells: list[tuple[str, Sequence[object]]] = []
        edges: dict[tuple[int, int], list[SetFollow]] = {}
        for w in writes:
            if isinstance(w, PutUser):
                ts = write_timestamp(w.seq)
                cells.append((self._q(PUT_USER), (ts, w.username, w.created_ms, w.user_id)))
            elif isinstance(w, SetAvatar):
                ts = write_timestamp(w.seq)
                cells.append((self._q(SET_AVATAR), (ts, w.avatar_url, w.user_id)))
            elif isinstance(w, SetFollow):
                edges.setdefault((w.follower_id, w.followee_id), []).append(w)
        await asyncio.gather(self._s.run(cells), in_order(edges.values(), self._set_follow))

    async def _set_follow(self, w: SetFollow) -> None:
        ts = write_timestamp(w.seq)
        a, b = w.follower_id, w.followee_id
        row = await self._s.one(self._q(EDGE_STATE), (a, b))
        moved = await self._move(
            membership(row, "active", "followed_ms"), w.active, w.at_ms, ts,
            lambda old: [(self._q(DELETE_FOLLOWER), (ts, b, old, a)),
                         (self._q(DELETE_FOLLOWING), (ts, a, old, b))],
            lambda new: [(self._q(INSERT_FOLLOWER), (b, new, a, ts)),
                         (self._q(INSERT_FOLLOWING), (a, new, b, ts))],
        )  # fmt: skip
        if moved:
            await self._write_edge(w, ts)  # last: an interrupted write is redone whole

    async def _write_edge(self, w: SetFollow, ts: int) -> None:
        if w.active:
            params: tuple[int, ...] = (ts, w.at_ms, w.follower_id, w.followee_id)
            await self._s.execute(self._q(FOLLOW_EDGE), params)
        else:
            await self._s.execute(self._q(UNFOLLOW_EDGE), (ts, w.follower_id, w.followee_id))

    # --- reads -----------------------------------------------------------------------------------
    async def users(self, ids: Sequence[int]) -> dict[int, UserView]:
        return await self._by_id(USER, ids, user_view)

    async def followers(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._edges(FOLLOWERS_FIRST, FOLLOWERS_AFTER, user_id, limit, after)

    async def following(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._edges(FOLLOWING_FIRST, FOLLOWING_AFTER, user_id, limit, after)

    async def _edges(
        self, first: str, later: str, user_id: int, limit: int, after: Position | None
    ) -> Page[Edge]:
        if after is None:
            rows = await self._s.execute(self._q(first), (user_id, limit + 1))
        else:
            rows = await self._s.execute(
                self._q(later), (user_id, after.at_ms, after.id, limit + 1)
            )
        return edge_page(rows, limit)

    async def counts(self, ids: Sequence[int]) -> dict[int, GraphCounts]:
        async def count(uid: int) -> GraphCounts:
            followers, following = await asyncio.gather(
                self._s.one(self._q(COUNT_FOLLOWERS), (uid,)),
                self._s.one(self._q(COUNT_FOLLOWING), (uid,)),
            )
            return GraphCounts(_count(followers), _count(following))

        found = await asyncio.gather(*(count(uid) for uid in ids))
        return dict(zip(ids, found, strict=True))

    async def follows(self, follower_id: int, candidates: Sequence[int]) -> set[int]:
        unique = sorted(set(candidates))
        chunks = [unique[i : i + IN_CHUNK] for i in range(0, len(unique), IN_CHUNK)]
        replies = await asyncio.gather(
            *(self._s.execute(self._q(FOLLOWS), (follower_id, chunk)) for chunk in chunks)
        )
        return {int(r["followee_id"]) for rows in replies for r in rows if r.get("active")}


def _count(row: Row | None) -> int:
    return int(row["n"]) if row is not None else 0
