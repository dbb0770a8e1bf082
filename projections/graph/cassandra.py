"""Cassandra adapter of the users/graph projection: writer, UserReader and GraphReader.

Tables (infra/cassandra/graph.cql): `users` by id; `follow_edges` (follower -> followee: active,
followed_ms) is the state of each edge; `followers` and `following` are its two sorted indexes,
newest first, keyset-paged by (followed_ms, other id). A follow or unfollow reads its edge's state,
moves the edge's rows in both indexes (a re-follow changes followed_ms, the clustering key), then
writes the state, all at the event's timestamp (see cassandra_base).

Blocks and mutes (`relations`: the state of each (user, kind, other), written on both sides;
`relation_list`: each kind's time-sorted rows, keyset-paged) are kept as the edges are.

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
    Row,
    in_order,
    membership,
    write_timestamp,
)
from projections.graph.cassandra_requests import REQUEST_STATEMENTS, FollowRequestsInCassandra
from projections.graph.ports import Edge, GraphCounts, UserView, edges_page
from projections.graph.relations import Relation
from projections.ports import Page, Position
from projections.writes import (
    PutUser,
    SetAvatar,
    SetBlock,
    SetFollow,
    SetFollowRequest,
    SetMute,
    SetPrivacy,
    SetProfile,
    Write,
)

GROUP = "graph"
SCHEMA = "graph.cql"
IN_CHUNK = 100  # candidates per `IN` query of `follows`

PUT_USER = "UPDATE {ks}.users USING TIMESTAMP ? SET username = ?, created_ms = ? WHERE user_id = ?"
SET_AVATAR = (
    "UPDATE {ks}.users USING TIMESTAMP ? SET avatar_url = ?, avatar_keys = ? WHERE user_id = ?"
)
SET_DISPLAY_NAME = "UPDATE {ks}.users USING TIMESTAMP ? SET display_name = ? WHERE user_id = ?"
SET_BIO = "UPDATE {ks}.users USING TIMESTAMP ? SET bio = ? WHERE user_id = ?"
USER = (
    "SELECT user_id, username, created_ms, avatar_url, avatar_keys, display_name, bio, private "
    "FROM {ks}.users WHERE user_id = ?"
)
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
# blocks and mutes (projections/graph/relations.py): a state row per (user, kind, other) on each
# side (relation_sides), and its row in the user's time-sorted list of that kind
RELATION_STATE = (
    "SELECT active, WRITETIME(active) AS active_ts, since_ms, WRITETIME(since_ms) AS since_ms_ts "
    "FROM {ks}.relations WHERE user_id = ? AND kind = ? AND other_id = ?"
)
RELATION_ON = (
    "UPDATE {ks}.relations USING TIMESTAMP ? SET active = true, since_ms = ? "
    "WHERE user_id = ? AND kind = ? AND other_id = ?"
)
RELATION_OFF = (
    "UPDATE {ks}.relations USING TIMESTAMP ? SET active = false "
    "WHERE user_id = ? AND kind = ? AND other_id = ?"
)
RELATED = (
    "SELECT other_id, active FROM {ks}.relations WHERE user_id = ? AND kind = ? AND other_id IN ?"
)
INSERT_LISTED = (
    "INSERT INTO {ks}.relation_list (user_id, kind, since_ms, other_id) VALUES (?, ?, ?, ?) "
    "USING TIMESTAMP ?"
)
DELETE_LISTED = (
    "DELETE FROM {ks}.relation_list USING TIMESTAMP ? "
    "WHERE user_id = ? AND kind = ? AND since_ms = ? AND other_id = ?"
)
LISTED_FIRST = (
    "SELECT other_id AS id, since_ms AS followed_ms FROM {ks}.relation_list "
    "WHERE user_id = ? AND kind = ? LIMIT ?"
)
LISTED_AFTER = (
    "SELECT other_id AS id, since_ms AS followed_ms FROM {ks}.relation_list "
    "WHERE user_id = ? AND kind = ? AND (since_ms, other_id) < (?, ?) LIMIT ?"
)
RELATION_KINDS = ("blocks", "blocked_by", "mutes", "muted_by")
MIRROR = {"blocks": "blocked_by", "blocked_by": "blocks", "mutes": "muted_by", "muted_by": "mutes"}
COUNT_FOLLOWERS = "SELECT COUNT(*) AS n FROM {ks}.followers WHERE user_id = ?"
COUNT_FOLLOWING = "SELECT COUNT(*) AS n FROM {ks}.following WHERE user_id = ?"
STATEMENTS = (
    PUT_USER, SET_AVATAR, SET_DISPLAY_NAME, SET_BIO, USER, EDGE_STATE, FOLLOW_EDGE, UNFOLLOW_EDGE,
    FOLLOWS, INSERT_FOLLOWER, DELETE_FOLLOWER, INSERT_FOLLOWING, DELETE_FOLLOWING,
    FOLLOWERS_FIRST, FOLLOWERS_AFTER, FOLLOWING_FIRST, FOLLOWING_AFTER, COUNT_FOLLOWERS,
    COUNT_FOLLOWING, RELATION_STATE, RELATION_ON, RELATION_OFF, RELATED, INSERT_LISTED,
    DELETE_LISTED, LISTED_FIRST, LISTED_AFTER, *REQUEST_STATEMENTS,
)  # fmt: skip
Side = tuple[int, str, int, int, bool, int]  # user, kind, other, since ms, active, seq


def relation_sides(w: SetBlock | SetMute) -> list[Side]:
    """The two state rows a block or mute writes: the actor's and its mirror on the other's
    side (so either user's check reads their own partition)."""
    if isinstance(w, SetBlock):
        a, b, kind = w.blocker_id, w.blocked_id, "blocks"
    else:
        a, b, kind = w.muter_id, w.muted_id, "mutes"
    return [(a, kind, b, w.at_ms, w.active, w.seq), (b, MIRROR[kind], a, w.at_ms, w.active, w.seq)]


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
                    int(row.get("created_ms") or 0), row.get("display_name") or None,
                    row.get("bio") or None, tuple(row.get("avatar_keys") or ()),
                    bool(row.get("private")))  # fmt: skip


def edge_page(rows: Sequence[Row], limit: int) -> Page[Edge]:
    """Up to `limit + 1` (id, followed_ms) rows, newest first, as a page and its cursor."""
    return edges_page([Edge(int(r["id"]), int(r["followed_ms"])) for r in rows], limit)


# --- the adapter ---------------------------------------------------------------------------------
class CassandraGraph(FollowRequestsInCassandra):
    """One version of the graph group (follow requests: projections/graph/cassandra_requests.py)."""

    async def apply(self, writes: Sequence[Write]) -> None:
        """Profile and avatar cells at once; each edge's writes in order, edges concurrently."""
        cells: list[tuple[str, Sequence[object]]] = []
        edges: dict[tuple[int, int], list[SetFollow]] = {}
        sides: dict[tuple[int, str, int], list[Side]] = {}
        steps: list[SetFollowRequest | SetPrivacy] = []
        for w in writes:
            if isinstance(w, SetFollowRequest | SetPrivacy):
                steps.append(w)
            elif isinstance(w, PutUser):
                ts = write_timestamp(w.seq)
                cells.append((self._q(PUT_USER), (ts, w.username, w.created_ms, w.user_id)))
            elif isinstance(w, SetAvatar):
                ts = write_timestamp(w.seq)
                squares = list(w.avatar_keys) or None  # an empty list is a null cell
                cells.append((self._q(SET_AVATAR), (ts, w.avatar_url, squares, w.user_id)))
            elif isinstance(w, SetProfile):
                ts = write_timestamp(w.seq)
                for cql, value in ((SET_DISPLAY_NAME, w.display_name), (SET_BIO, w.bio)):
                    if value is not None:  # "" clears: a null cell at the event's timestamp
                        cells.append((self._q(cql), (ts, value or None, w.user_id)))
            elif isinstance(w, SetFollow):
                edges.setdefault((w.follower_id, w.followee_id), []).append(w)
            elif isinstance(w, SetBlock | SetMute):
                for side in relation_sides(w):
                    sides.setdefault(side[:3], []).append(side)
        await asyncio.gather(
            self._s.run(cells), in_order(edges.values(), self._set_follow),
            in_order(sides.values(), self._set_relation),
        )  # fmt: skip
        if steps:  # last: its edge steps read the edges written above
            await self._apply_requests(writes)

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

    async def _set_relation(self, side: Side) -> None:
        """One side of a block or mute, as a follow edge is written: the list row moves, then
        the state (last: an interrupted write is redone whole)."""
        user, kind, other, at_ms, active, seq = side
        ts = write_timestamp(seq)
        row = await self._s.one(self._q(RELATION_STATE), (user, kind, other))
        moved = await self._move(
            membership(row, "active", "since_ms"), active, at_ms, ts,
            lambda old: [(self._q(DELETE_LISTED), (ts, user, kind, old, other))],
            lambda new: [(self._q(INSERT_LISTED), (user, kind, new, other, ts))],
        )  # fmt: skip
        if not moved:
            return
        if active:
            await self._s.execute(self._q(RELATION_ON), (ts, at_ms, user, kind, other))
        else:
            await self._s.execute(self._q(RELATION_OFF), (ts, user, kind, other))

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

    async def relations(self, viewer: int, others: Sequence[int]) -> dict[int, Relation]:
        unique = sorted(set(others))
        chunks = [unique[i : i + IN_CHUNK] for i in range(0, len(unique), IN_CHUNK)]
        kinds = ("blocks", "blocked_by", "mutes")
        replies = await asyncio.gather(*(
            self._s.execute(self._q(RELATED), (viewer, kind, chunk))
            for kind in kinds for chunk in chunks
        ))  # fmt: skip
        on: dict[str, set[int]] = {kind: set() for kind in kinds}
        for i, rows in enumerate(replies):
            on[kinds[i // len(chunks)]] |= {int(r["other_id"]) for r in rows if r.get("active")}
        return {o: Relation(o in on["blocks"], o in on["blocked_by"], o in on["mutes"])
                for o in others}  # fmt: skip

    async def blocks(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._listed(user_id, "blocks", limit, after)

    async def mutes(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        return await self._listed(user_id, "mutes", limit, after)

    async def _listed(
        self, user_id: int, kind: str, limit: int, after: Position | None
    ) -> Page[Edge]:
        if after is None:
            rows = await self._s.execute(self._q(LISTED_FIRST), (user_id, kind, limit + 1))
        else:
            params = (user_id, kind, after.at_ms, after.id, limit + 1)
            rows = await self._s.execute(self._q(LISTED_AFTER), params)
        return edge_page(rows, limit)


def _count(row: Row | None) -> int:
    return int(row["n"]) if row is not None else 0
