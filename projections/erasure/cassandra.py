"""Erasure of one user from the Cassandra projections (graph, posts, engagement) at every version
being served or built: the "cassandra" step of the account-erasure workflow (streams/erasure.py).

The goal is the Redis erasure's (projections/erasure/redis.py): afterwards each keyspace holds what
a replay would build from the log without the user's events (the opener drops them, and the
follows of them, and the deletions of their comments). What goes:
- graph: the user's row; every edge both ways: the edge state (`follow_edges`: the user's
  partition, and the (follower, user) row of each follower) and the sorted rows on both sides:
  the user's `followers` and `following` partitions, and the other user's row of each edge, whose
  clustering key (followed_ms) is read from the edge state and from the user's own sorted rows
  (which also catches a row moved by a write interrupted before it wrote the state); every block
  and mute either way likewise: the user's `relations` and `relation_list` partitions, and the
  mirror rows on the other side that the user's own rows name; follow requests either way: the
  user's steps, index and privacy switches, their steps in each owner's partition their index
  names, and the index entries naming them in each requester's partition their steps name;
- posts: the row of each post of the user (the facts', and those the user's timeline names), the
  user's `timeline_posts` and `timelines` partitions;
- engagement: the comments the user wrote that can be found (see Reach), each with its
  `comments_by_post` row; the notification rows the user caused in the partitions of the users
  around them (followers and following): each (post, subject, actor = the user) prefix found
  there, and the follow prefix in the partition of everyone they followed; the user's own
  notification partitions (events, gone posts, read mark).
Comments others left on the user's posts stay, as in Redis: those events are not the user's, and a
replay keeps them.

Timestamps. Every delete is written USING TIMESTAMP ERASED_AT (MAX_TIMESTAMP - 1), at or above
every timestamp any write uses (event ids; a read mark is capped at MAX_TIMESTAMP - 1, and a
tombstone wins a tie). NOT a plain DELETE: the server would stamp it in microseconds (about 1.8e15
in 2026), far below the Snowflake ids the rows were written at (about 1.5e17), so it would hide
nothing (see cassandra_base). Nor the current time as an id: the clock of the gateway that issued
an event may run ahead of this worker's. Hiding later writes to these keys is the point, and hides
nothing legitimate: every key deleted here names the user (as the row, the partition, or the
actor of a notification row), one of their posts or one of their comments, and only events of the
user, or about them, write such keys, which the opener drops from now on; a write still in flight
from before the erasure (a lagging agent, a redelivery, a replay building a version) is hidden
too. The tombstones are purged after gc_grace_seconds together with what they shadow.

Reach (what the schema cannot find). Cassandra has no index by commenter, and likes stay in Redis:
- comments are found through `comments_by_post` of the user's posts, and through the comment
  notifications the user caused in the partitions of their followers and followees (live
  comments, within the notifications' 90-day TTL); comments elsewhere, older ones, and deleted
  ones (whose row keeps post, commenter and time, without a body) are not found;
- the like and comment notifications the user caused to anyone outside followers and following.

Order and crash safety. Reads find rows through other rows (the other side of an edge through
the edge state or the user's sorted rows, a post through the user's timeline, a comment through a
notification), so the deletes run in three phases, each concurrently, one after the other: the
rows found through an index, then the notification rows (an index of comments), last the indexes
(edge state, the user's sorted partitions, the timeline). A crash leaves the index of everything
left, so running the erasure again finds and deletes the rest; every delete is idempotent. A
comment and its `comments_by_post` row go in one logged batch: when the comment was found
through its post, each is the only way to the other.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from projections.backends.cassandra import (
    DEFAULT_PREFIX,
    MAX_TIMESTAMP,
    CassandraStore,
    Row,
    keyspace_name,
    write_timestamp,
)
from projections.engagement import cassandra as cassandra_engagement
from projections.engagement.cassandra import FOLLOW_SUBJECT, NO_POST
from projections.engagement.logic import COMMENT, parse_bundle
from projections.erasure.redis import ErasureFacts
from projections.feeds import cassandra as cassandra_posts
from projections.graph import cassandra as cassandra_graph

ERASED_AT = write_timestamp(MAX_TIMESTAMP - 1)  # the timestamp of every delete (see above)
CHUNK = 512  # requests gathered at once; the store caps those in flight
_KEYSPACE = re.compile(r"[a-z][a-z0-9_]{0,47}")

Statement = tuple[str, tuple[object, ...]]

# --- graph ---------------------------------------------------------------------------------------
OUT_EDGES = "SELECT followee_id, followed_ms FROM {ks}.follow_edges WHERE follower_id = ?"
IN_EDGE = (
    "SELECT follower_id, followed_ms FROM {ks}.follow_edges "
    "WHERE follower_id = ? AND followee_id = ?"
)
OWN_FOLLOWING = "SELECT followee_id, followed_ms FROM {ks}.following WHERE user_id = ?"
OWN_FOLLOWERS = "SELECT follower_id, followed_ms FROM {ks}.followers WHERE user_id = ?"
DELETE_USER = "DELETE FROM {ks}.users USING TIMESTAMP ? WHERE user_id = ?"
DELETE_OUT_EDGES = "DELETE FROM {ks}.follow_edges USING TIMESTAMP ? WHERE follower_id = ?"
DELETE_IN_EDGE = (
    "DELETE FROM {ks}.follow_edges USING TIMESTAMP ? WHERE follower_id = ? AND followee_id = ?"
)
DELETE_FOLLOWERS = "DELETE FROM {ks}.followers USING TIMESTAMP ? WHERE user_id = ?"
DELETE_FOLLOWING = "DELETE FROM {ks}.following USING TIMESTAMP ? WHERE user_id = ?"
DELETE_AS_FOLLOWER = (  # the user's row among a followee's followers
    "DELETE FROM {ks}.followers USING TIMESTAMP ? "
    "WHERE user_id = ? AND followed_ms = ? AND follower_id = ?"
)
DELETE_AS_FOLLOWEE = (  # the user's row among what a follower follows
    "DELETE FROM {ks}.following USING TIMESTAMP ? "
    "WHERE user_id = ? AND followed_ms = ? AND followee_id = ?"
)
# blocks and mutes: the user's own rows name the other side of each (its mirror kind)
OWN_RELATIONS = "SELECT kind, other_id, since_ms FROM {ks}.relations WHERE user_id = ?"
OWN_LISTED = (
    "SELECT kind, since_ms, other_id FROM {ks}.relation_list WHERE user_id = ? AND kind = ?"
)
DELETE_RELATIONS = "DELETE FROM {ks}.relations USING TIMESTAMP ? WHERE user_id = ?"
DELETE_OWN_LISTED = (
    "DELETE FROM {ks}.relation_list USING TIMESTAMP ? WHERE user_id = ? AND kind = ?"
)
DELETE_AS_RELATED = (  # the user's state row on the other's side
    "DELETE FROM {ks}.relations USING TIMESTAMP ? WHERE user_id = ? AND kind = ? AND other_id = ?"
)
DELETE_AS_LISTED = (  # the user's row in the other's list
    "DELETE FROM {ks}.relation_list USING TIMESTAMP ? "
    "WHERE user_id = ? AND kind = ? AND since_ms = ? AND other_id = ?"
)
# follow requests (projections/graph/cassandra_requests.py): the user's own partitions, and the
# steps of theirs in the partition of each owner their `requested` index names, and the index
# entries naming the user in the partition of each requester their steps name
OWN_ASKED = "SELECT owner_id FROM {ks}.requested WHERE requester_id = ?"
ASKERS = "SELECT requester_id FROM {ks}.follow_request_steps WHERE owner_id = ?"
DELETE_STEPS = "DELETE FROM {ks}.follow_request_steps USING TIMESTAMP ? WHERE owner_id = ?"
DELETE_AS_ASKER = (  # the user's steps in an owner's partition
    "DELETE FROM {ks}.follow_request_steps USING TIMESTAMP ? "
    "WHERE owner_id = ? AND requester_id = ?"
)
DELETE_ASKED = "DELETE FROM {ks}.requested USING TIMESTAMP ? WHERE requester_id = ?"
DELETE_AS_ASKED = (  # the user among the owners a requester's index names
    "DELETE FROM {ks}.requested USING TIMESTAMP ? WHERE requester_id = ? AND owner_id = ?"
)
DELETE_SWITCHES = "DELETE FROM {ks}.privacy_switches USING TIMESTAMP ? WHERE user_id = ?"

# --- posts ---------------------------------------------------------------------------------------
TIMELINE_STATE = "SELECT post_id FROM {ks}.timeline_posts WHERE author_id = ?"
TIMELINE = "SELECT post_id FROM {ks}.timelines WHERE author_id = ?"
DELETE_POST = "DELETE FROM {ks}.posts USING TIMESTAMP ? WHERE post_id = ?"
DELETE_TIMELINE_STATE = "DELETE FROM {ks}.timeline_posts USING TIMESTAMP ? WHERE author_id = ?"
DELETE_TIMELINE = "DELETE FROM {ks}.timelines USING TIMESTAMP ? WHERE author_id = ?"

# --- engagement ----------------------------------------------------------------------------------
POST_COMMENTS = (
    "SELECT post_id, created_ms, comment_id FROM {ks}.comments_by_post WHERE post_id = ?"
)
COMMENT_ROW = (
    "SELECT comment_id, post_id, commenter_id, created_ms FROM {ks}.comments WHERE comment_id = ?"
)
NOTICES_IN = (
    "SELECT recipient_id, post_id, subject, actor_id FROM {ks}.notification_events "
    "WHERE recipient_id = ?"
)
DELETE_COMMENT = "DELETE FROM {ks}.comments USING TIMESTAMP ? WHERE comment_id = ?"
DELETE_BY_POST = (
    "DELETE FROM {ks}.comments_by_post USING TIMESTAMP ? "
    "WHERE post_id = ? AND created_ms = ? AND comment_id = ?"
)
DELETE_COMMENT_AND_ROW = f"BEGIN BATCH {DELETE_BY_POST}; {DELETE_COMMENT}; APPLY BATCH"  # logged
DELETE_NOTICES_BY = (
    "DELETE FROM {ks}.notification_events USING TIMESTAMP ? "
    "WHERE recipient_id = ? AND post_id = ? AND subject = ? AND actor_id = ?"
)
DELETE_NOTICES = "DELETE FROM {ks}.notification_events USING TIMESTAMP ? WHERE recipient_id = ?"
DELETE_GONE = "DELETE FROM {ks}.notification_gone USING TIMESTAMP ? WHERE recipient_id = ?"
DELETE_READ_MARK = "DELETE FROM {ks}.notification_reads USING TIMESTAMP ? WHERE user_id = ?"

STATEMENTS: dict[str, tuple[str, ...]] = {
    "graph.cql": (
        OUT_EDGES, IN_EDGE, OWN_FOLLOWING, OWN_FOLLOWERS, DELETE_USER, DELETE_OUT_EDGES,
        DELETE_IN_EDGE, DELETE_FOLLOWERS, DELETE_FOLLOWING, DELETE_AS_FOLLOWER, DELETE_AS_FOLLOWEE,
        OWN_RELATIONS, OWN_LISTED, DELETE_RELATIONS, DELETE_OWN_LISTED, DELETE_AS_RELATED,
        DELETE_AS_LISTED, OWN_ASKED, ASKERS, DELETE_STEPS, DELETE_AS_ASKER, DELETE_ASKED,
        DELETE_AS_ASKED, DELETE_SWITCHES,
    ),
    "posts.cql": (
        TIMELINE_STATE, TIMELINE, DELETE_POST, DELETE_TIMELINE_STATE, DELETE_TIMELINE,
    ),
    "engagement.cql": (
        POST_COMMENTS, COMMENT_ROW, NOTICES_IN, DELETE_COMMENT, DELETE_BY_POST,
        DELETE_COMMENT_AND_ROW, DELETE_NOTICES_BY, DELETE_NOTICES, DELETE_GONE, DELETE_READ_MARK,
    ),
}  # fmt: skip  # schema file -> the statements of this module on its tables (a batch counts once)


@dataclass(frozen=True, slots=True)
class CassandraKeyspaces:
    """The keyspaces to erase from, per group: every version being served or built."""

    graph: list[str]
    posts: list[str]
    engagement: list[str]

    def __post_init__(self) -> None:
        for name in (*self.graph, *self.posts, *self.engagement):
            if not _KEYSPACE.fullmatch(name):
                raise ValueError(f"not a valid keyspace name: {name!r}")

    @classmethod
    def at(
        cls,
        graph: Iterable[int],
        feeds: Iterable[int],
        engagement: Iterable[int],
        prefix: str = DEFAULT_PREFIX,
    ) -> CassandraKeyspaces:
        """The keyspaces of the given versions of the graph, feeds and engagement groups."""
        return cls(
            [keyspace_name(cassandra_graph.GROUP, v, prefix) for v in graph],
            [keyspace_name(cassandra_posts.GROUP, v, prefix) for v in feeds],
            [keyspace_name(cassandra_engagement.GROUP, v, prefix) for v in engagement],
        )


# --- what the reads found ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GraphFound:
    """The rows of one graph keyspace about the user's edges."""

    out_edges: list[Row] = field(default_factory=list)  # follow_edges(user): followee_id, ms
    in_edges: list[Row] = field(default_factory=list)  # follow_edges(F, user): follower_id, ms
    following: list[Row] = field(default_factory=list)  # following(user): followee_id, ms
    followers: list[Row] = field(default_factory=list)  # followers(user): follower_id, ms
    relations: list[Row] = field(default_factory=list)  # relations(user): kind, other_id, ms
    listed: list[Row] = field(default_factory=list)  # relation_list(user, *): kind, ms, other
    asked: list[Row] = field(default_factory=list)  # requested(user): owner_id
    askers: list[Row] = field(default_factory=list)  # follow_request_steps(user): requester_id


@dataclass(frozen=True, slots=True)
class EngagementFound:
    """The rows of one engagement keyspace through which the user's comments and the
    notifications they caused are found."""

    notices: list[Row] = field(default_factory=list)  # rows of others' partitions (NOTICES_IN)
    by_post: list[Row] = field(default_factory=list)  # comments_by_post of the user's posts
    comments: list[Row] = field(default_factory=list)  # comments rows of the candidates


@dataclass(frozen=True, slots=True)
class Found:
    """What the reads found, per keyspace (a keyspace not listed found nothing)."""

    graph: dict[str, GraphFound] = field(default_factory=dict)
    posts: dict[str, list[Row]] = field(default_factory=dict)  # rows with the user's post_ids
    engagement: dict[str, EngagementFound] = field(default_factory=dict)


# --- planning (pure) -----------------------------------------------------------------------------
def _q(template: str, keyspace: str) -> str:
    return template.replace("{ks}", keyspace)


def _ids(rows: Iterable[Row], column: str) -> set[int]:
    return {int(r[column]) for r in rows if r.get(column) is not None}


def _edge_keys(rows: Iterable[Row], other: str) -> set[tuple[int, int]]:
    """(other user, followed_ms) of edge rows that carry a time."""
    return {
        (int(r[other]), int(r["followed_ms"]))
        for r in rows
        if r.get(other) is not None and r.get("followed_ms") is not None
    }


def follower_candidates(facts: ErasureFacts, followers: Iterable[Row]) -> list[int]:
    """Whose edge towards the user to read and delete: the facts' followers and those the
    user's `followers` partition names."""
    return sorted(set(facts.followers) | _ids(followers, "follower_id"))


def followees(user: int, facts: ErasureFacts, graph: Iterable[GraphFound]) -> list[int]:
    """Everyone the user has (or had) an edge towards."""
    ids = set(facts.following)
    for g in graph:
        ids |= _ids(g.out_edges, "followee_id") | _ids(g.following, "followee_id")
    ids.discard(user)
    return sorted(ids)


def neighbours(user: int, facts: ErasureFacts, graph: Iterable[GraphFound]) -> list[int]:
    """Everyone with an edge either way: whose notifications are searched for the user's."""
    graph = list(graph)
    ids = set(facts.followers) | set(followees(user, facts, graph))
    for g in graph:
        ids |= _ids(g.in_edges, "follower_id") | _ids(g.followers, "follower_id")
    ids.discard(user)
    return sorted(ids)


def user_posts(facts: ErasureFacts, timelines: Iterable[Sequence[Row]]) -> list[int]:
    """The facts' posts and those the user's timeline (state or sorted rows) names."""
    ids = set(facts.posts)
    for rows in timelines:
        ids |= _ids(rows, "post_id")
    return sorted(ids)


def commented(row: Row) -> int | None:
    """The comment id of a comment notification row; None for any other row."""
    subject = row.get("subject")
    if not isinstance(subject, str) or not subject.startswith(f"{COMMENT}:"):
        return None
    try:
        _, _, comment = parse_bundle(subject)
    except ValueError:
        return None
    return comment


def comment_candidates(user: int, notices: Iterable[Row], by_post: Iterable[Row]) -> list[int]:
    """Comments that may be the user's: those of their comment notifications, and every comment
    on their posts (whose row says who wrote it)."""
    ids = _ids(by_post, "comment_id")
    for row in notices:
        if row.get("actor_id") == user and (comment := commented(row)) is not None:
            ids.add(comment)
    return sorted(ids)


def graph_statements(
    keyspace: str, user: int, facts: ErasureFacts, found: GraphFound
) -> tuple[list[Statement], list[Statement]]:
    """(rows found through the edges, the edges and the user's partitions) of one keyspace."""
    ts = ERASED_AT
    out = _edge_keys(found.out_edges, "followee_id") | _edge_keys(found.following, "followee_id")
    into = _edge_keys(found.in_edges, "follower_id") | _edge_keys(found.followers, "follower_id")
    first: list[Statement] = [(_q(DELETE_USER, keyspace), (ts, user))]
    first += [
        (_q(DELETE_AS_FOLLOWER, keyspace), (ts, other, ms, user)) for other, ms in sorted(out)
    ]
    first += [
        (_q(DELETE_AS_FOLLOWEE, keyspace), (ts, other, ms, user)) for other, ms in sorted(into)
    ]
    followers = set(follower_candidates(facts, found.followers))
    followers |= _ids(found.in_edges, "follower_id")
    last: list[Statement] = [
        (_q(DELETE_IN_EDGE, keyspace), (ts, other, user)) for other in sorted(followers)
    ]
    last += [(_q(template, keyspace), (ts, user))
             for template in (DELETE_OUT_EDGES, DELETE_FOLLOWERS, DELETE_FOLLOWING)]  # fmt: skip
    mirrored, listed = relation_keys(found)
    first += [(_q(DELETE_AS_RELATED, keyspace), (ts, other, kind, user))
              for other, kind in sorted(mirrored)]  # fmt: skip
    first += [(_q(DELETE_AS_LISTED, keyspace), (ts, other, kind, ms, user))
              for other, kind, ms in sorted(listed)]  # fmt: skip
    last += [(_q(DELETE_RELATIONS, keyspace), (ts, user))]
    first += [(_q(DELETE_AS_ASKER, keyspace), (ts, owner, user))
              for owner in sorted(_ids(found.asked, "owner_id"))]  # fmt: skip
    first += [(_q(DELETE_AS_ASKED, keyspace), (ts, asker, user))
              for asker in sorted(_ids(found.askers, "requester_id") - {user})]  # fmt: skip
    last += [(_q(template, keyspace), (ts, user))
             for template in (DELETE_STEPS, DELETE_ASKED, DELETE_SWITCHES)]  # fmt: skip
    last += [(_q(DELETE_OWN_LISTED, keyspace), (ts, user, kind))
             for kind in cassandra_graph.RELATION_KINDS]  # fmt: skip
    return first, last


def relation_keys(found: GraphFound) -> tuple[set[tuple[int, str]], set[tuple[int, str, int]]]:
    """The other side of each of the user's blocks and mutes (either way): (other, mirror kind)
    state rows, and (other, mirror kind, since ms) list rows, from the user's state rows and
    their own list rows (which also catch a row moved by a write cut short)."""
    mirror = cassandra_graph.MIRROR
    rows = [r for r in (*found.relations, *found.listed)
            if r.get("other_id") is not None and r.get("kind") in mirror]  # fmt: skip
    states = {(int(r["other_id"]), mirror[r["kind"]]) for r in rows}
    listed = {(int(r["other_id"]), mirror[r["kind"]], int(r["since_ms"]))
              for r in rows if r.get("since_ms") is not None}  # fmt: skip
    return states, listed


def posts_statements(
    keyspace: str, user: int, posts: Sequence[int]
) -> tuple[list[Statement], list[Statement]]:
    """(the posts' rows, the user's timeline) of one keyspace."""
    first: list[Statement] = [(_q(DELETE_POST, keyspace), (ERASED_AT, post)) for post in posts]
    last: list[Statement] = [(_q(template, keyspace), (ERASED_AT, user))
                             for template in (DELETE_TIMELINE, DELETE_TIMELINE_STATE)]  # fmt: skip
    return first, last


def engagement_statements(
    keyspace: str, user: int, followed: Sequence[int], found: EngagementFound
) -> tuple[list[Statement], list[Statement]]:
    """(the user's comments and notification partitions, the notification rows they caused in
    the partitions of others) of one keyspace."""
    ts = ERASED_AT
    first: list[Statement] = []
    for row in sorted(found.comments, key=lambda r: int(r["comment_id"])):
        if row.get("commenter_id") != user:
            continue  # someone else's comment on the user's post: it stays
        comment = int(row["comment_id"])
        rows = {(int(r["post_id"]), int(r["created_ms"])) for r in found.by_post
                if r.get("comment_id") == comment and r.get("created_ms") is not None}  # fmt: skip
        if row.get("post_id") is not None and row.get("created_ms") is not None:
            rows.add((int(row["post_id"]), int(row["created_ms"])))
        if not rows:  # no time: no comments_by_post row to find
            first.append((_q(DELETE_COMMENT, keyspace), (ts, comment)))
        first += [(_q(DELETE_COMMENT_AND_ROW, keyspace), (ts, post, ms, comment, ts, comment))
                  for post, ms in sorted(rows)]  # fmt: skip
    first += [(_q(template, keyspace), (ts, user))
              for template in (DELETE_NOTICES, DELETE_GONE, DELETE_READ_MARK)]  # fmt: skip
    prefixes = {(int(r["recipient_id"]), int(r["post_id"]), str(r["subject"]))
                for r in found.notices if r.get("actor_id") == user}  # fmt: skip
    prefixes |= {(other, NO_POST, FOLLOW_SUBJECT) for other in followed}
    caused: list[Statement] = [
        (_q(DELETE_NOTICES_BY, keyspace), (ts, recipient, post, subject, user))
        for recipient, post, subject in sorted(prefixes)
        if recipient != user  # the user's own partition goes whole
    ]
    return first, caused


def erase_statements(
    keyspaces: CassandraKeyspaces, user: int, facts: ErasureFacts, found: Found
) -> list[list[Statement]]:
    """The deletes of the user's erasure, in phases: each phase's statements are independent
    (run concurrently), and each phase runs after the one before (see the module doc)."""
    graphs = [found.graph.get(ks, GraphFound()) for ks in keyspaces.graph]
    followed = followees(user, facts, graphs)
    posts = user_posts(facts, (found.posts.get(ks, []) for ks in keyspaces.posts))
    first: list[Statement] = []
    caused: list[Statement] = []
    last: list[Statement] = []
    for ks, g in zip(keyspaces.graph, graphs, strict=True):
        rows, edges = graph_statements(ks, user, facts, g)
        first += rows
        last += edges
    for ks in keyspaces.posts:
        rows, timeline = posts_statements(ks, user, posts)
        first += rows
        last += timeline
    for ks in keyspaces.engagement:
        rows, notices = engagement_statements(
            ks, user, followed, found.engagement.get(ks, EngagementFound())
        )
        first += rows
        caused += notices
    return [first, caused, last]


# --- the erasure ---------------------------------------------------------------------------------
async def _each(store: CassandraStore, cql: str, params: Sequence[tuple[object, ...]]) -> list[Row]:
    """The rows of one query run with each of `params`, CHUNK requests at a time."""
    out: list[Row] = []
    for i in range(0, len(params), CHUNK):
        pages = await asyncio.gather(*(store.execute(cql, p) for p in params[i : i + CHUNK]))
        out += [row for rows in pages for row in rows]
    return out


async def _find_graph(
    store: CassandraStore, keyspace: str, user: int, facts: ErasureFacts
) -> GraphFound:
    out_edges, following, followers, relations, listed, asked, askers = await asyncio.gather(
        store.execute(_q(OUT_EDGES, keyspace), (user,)),
        store.execute(_q(OWN_FOLLOWING, keyspace), (user,)),
        store.execute(_q(OWN_FOLLOWERS, keyspace), (user,)),
        store.execute(_q(OWN_RELATIONS, keyspace), (user,)),
        _each(store, _q(OWN_LISTED, keyspace),
              [(user, kind) for kind in cassandra_graph.RELATION_KINDS]),
        store.execute(_q(OWN_ASKED, keyspace), (user,)),
        store.execute(_q(ASKERS, keyspace), (user,)),
    )  # fmt: skip
    candidates = follower_candidates(facts, followers)
    in_edges = await _each(store, _q(IN_EDGE, keyspace), [(f, user) for f in candidates])
    return GraphFound(out_edges, in_edges, following, followers, relations, listed, asked,
                      askers)  # fmt: skip


async def _find_posts(store: CassandraStore, keyspace: str, user: int) -> list[Row]:
    state, timeline = await asyncio.gather(
        store.execute(_q(TIMELINE_STATE, keyspace), (user,)),
        store.execute(_q(TIMELINE, keyspace), (user,)),
    )
    return [*state, *timeline]


async def _find_engagement(  # written: every comment the user wrote (Valkey's index)
    store: CassandraStore,
    keyspace: str,
    user: int,
    around: Sequence[int],
    posts: Sequence[int],
    written: Sequence[int] = (),
) -> EngagementFound:
    notices, by_post = await asyncio.gather(
        _each(store, _q(NOTICES_IN, keyspace), [(other,) for other in around]),
        _each(store, _q(POST_COMMENTS, keyspace), [(post,) for post in posts]),
    )
    notices = [r for r in notices if r.get("actor_id") == user]
    candidates = sorted(set(comment_candidates(user, notices, by_post)) | set(written))
    comments = await _each(store, _q(COMMENT_ROW, keyspace), [(c,) for c in candidates])
    mine = [r for r in comments if r.get("commenter_id") == user]
    ids = _ids(mine, "comment_id")
    return EngagementFound(notices, [r for r in by_post if r.get("comment_id") in ids], mine)


async def find(
    store: CassandraStore, keyspaces: CassandraKeyspaces, user: int, facts: ErasureFacts
) -> Found:
    """Read what the erasure must reach beyond the facts."""
    graphs, timelines = await asyncio.gather(
        asyncio.gather(*(_find_graph(store, ks, user, facts) for ks in keyspaces.graph)),
        asyncio.gather(*(_find_posts(store, ks, user) for ks in keyspaces.posts)),
    )
    around = neighbours(user, facts, graphs)
    posts = user_posts(facts, timelines)
    engagement = await asyncio.gather(
        *(
            _find_engagement(store, ks, user, around, posts, [c for c, _, _ in facts.comments])
            for ks in keyspaces.engagement
        )
    )
    return Found(
        dict(zip(keyspaces.graph, graphs, strict=True)),
        dict(zip(keyspaces.posts, timelines, strict=True)),
        dict(zip(keyspaces.engagement, engagement, strict=True)),
    )


async def erase_user(
    store: CassandraStore, keyspaces: CassandraKeyspaces, user: int, facts: ErasureFacts
) -> None:
    """Erase `user` from every listed keyspace (idempotent: run it again after a crash)."""
    found = await find(store, keyspaces, user, facts)
    for phase in erase_statements(keyspaces, user, facts, found):
        for i in range(0, len(phase), CHUNK):
            await store.run(phase[i : i + CHUNK])
