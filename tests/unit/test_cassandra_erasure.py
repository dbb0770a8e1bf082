"""The Cassandra erasure's plan, checked without a server: every statement against the parsed
schemas (a DELETE names a full partition key and a clustering prefix), every table covered, both
sides of every edge, the user's comments and the notifications they caused (others' stay), the
phases (an index goes after what it indexes), the timestamp, and how `erase_user` turns reads
into phases (on a stub store that answers canned rows: nothing here talks to Cassandra)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from projections.backends.cassandra import (
    MAX_TIMESTAMP,
    CassandraStore,
    Row,
    TableSchema,
    parse_tables,
    schema_statements,
    schema_text,
)
from projections.engagement.cassandra import FOLLOW_SUBJECT, NO_POST
from projections.engagement.logic import comment_bundle, like_bundle
from projections.erasure import cassandra as ce
from projections.erasure.cassandra import (
    ERASED_AT,
    CassandraKeyspaces,
    EngagementFound,
    Found,
    GraphFound,
    Statement,
    erase_statements,
)
from projections.erasure.redis import ErasureFacts
from schemas.ids import SnowflakeGenerator, min_id_at

USER = 7
KEYSPACES = CassandraKeyspaces(
    graph=["pf_graph_v1", "pf_graph_v2"],
    posts=["pf_feeds_v3"],
    engagement=["pf_engagement_v4", "pf_engagement_v5"],
)
SCHEMA_OF = {
    **dict.fromkeys(KEYSPACES.graph, "graph.cql"),
    **dict.fromkeys(KEYSPACES.posts, "posts.cql"),
    **dict.fromkeys(KEYSPACES.engagement, "engagement.cql"),
}
# followers 11 (edge state), 12 (the user's followers row only: a write cut short), 13 (facts only);
# followees 21 (state at 200, and a row at 210 from a re-follow cut short), 22 (unfollowed), 23
FACTS = ErasureFacts(followers=[11, 13], following=[21, 23], posts=[31, 32], photos=[], contents=[])


def tables_of(schema: str) -> dict[str, TableSchema]:
    return parse_tables(schema_statements(schema_text(schema), "ks_v1", 1))


def edge(other: str, other_id: int, ms: int | None, **more: Any) -> Row:
    return {other: other_id, "followed_ms": ms, **more}


GRAPH = GraphFound(
    out_edges=[edge("followee_id", 21, 200), edge("followee_id", 22, 220)],
    in_edges=[edge("follower_id", 11, 100)],
    following=[edge("followee_id", 21, 210)],
    followers=[edge("follower_id", 11, 100), edge("follower_id", 12, 110)],
)
TIMELINE = [{"post_id": 32}, {"post_id": 33}]


def notice(recipient: int, post: int, subject: str, actor: int) -> Row:
    return {"recipient_id": recipient, "post_id": post, "subject": subject, "actor_id": actor}


def comment(comment_id: int, post: int, commenter: int, ms: int | None) -> Row:
    return {"comment_id": comment_id, "post_id": post, "commenter_id": commenter, "created_ms": ms}


ENGAGEMENT = EngagementFound(
    notices=[
        notice(21, 41, like_bundle(41), USER),
        notice(21, 42, comment_bundle(42, 51), USER),
        notice(21, 42, comment_bundle(42, 52), 8),  # someone else's
        notice(11, 43, like_bundle(43), 8),
        notice(21, NO_POST, FOLLOW_SUBJECT, USER),
    ],
    by_post=[
        {"post_id": 31, "created_ms": 300, "comment_id": 53},  # the user's, on their post
        {"post_id": 31, "created_ms": 310, "comment_id": 54},  # someone else's on their post
    ],
    comments=[
        comment(51, 42, USER, 290),  # found through the notification
        comment(53, 31, USER, 300),
        comment(54, 31, 8, 310),
        comment(55, 31, USER, None),  # no time: no comments_by_post row
    ],
)
FOUND = Found(
    graph=dict.fromkeys(KEYSPACES.graph, GRAPH),
    posts=dict.fromkeys(KEYSPACES.posts, TIMELINE),
    engagement=dict.fromkeys(KEYSPACES.engagement, ENGAGEMENT),
)


# --- statements against the schemas ---------------------------------------------------------------
def parts(cql: str) -> list[str]:
    """The statements of a batch, or the statement itself."""
    m = re.fullmatch(r"BEGIN BATCH (.*); APPLY BATCH", cql)
    return m.group(1).split("; ") if m else [cql]


_DELETE = re.compile(r"DELETE FROM (\w+)\.(\w+) USING TIMESTAMP \? WHERE (.*)")
_SELECT = re.compile(r"SELECT (.*?) FROM (\w+)\.(\w+) WHERE (.*)")


def where_columns(where: str, table: TableSchema) -> list[str]:
    """The columns of a WHERE made of `c = ?` terms, checked to be the full partition key and a
    prefix of the clustering key, in key order."""
    columns = re.findall(r"(\w+) = \?", where)
    assert where == " AND ".join(f"{c} = ?" for c in columns), where
    key = list(table.key)
    assert columns == key[: len(columns)], (table.name, columns)
    assert len(columns) >= len(table.partition), (table.name, columns)
    return columns


def deletes(statement: Statement) -> list[tuple[str, str, dict[str, object]]]:
    """(keyspace, table, key column -> value) of each DELETE of a planned statement, checked
    against its keyspace's schema: full partition key, clustering prefix, ERASED_AT."""
    cql, params = statement
    assert cql.count("?") == len(params), statement
    out, rest = [], list(params)
    for part in parts(cql):
        m = _DELETE.fullmatch(part)
        assert m is not None, part
        keyspace, name, where = m.groups()
        table = tables_of(SCHEMA_OF[keyspace])[name]
        columns = where_columns(where, table)
        mine, rest = rest[: 1 + len(columns)], rest[1 + len(columns) :]
        assert mine[0] == ERASED_AT, statement
        for column, value in zip(columns, mine[1:], strict=True):
            expected = str if table.columns[column] == "text" else int
            assert type(value) is expected, (column, value)
        out.append((keyspace, name, dict(zip(columns, mine[1:], strict=True))))
    return out


def plan(found: Found = FOUND, facts: ErasureFacts = FACTS) -> list[list[Statement]]:
    return erase_statements(KEYSPACES, USER, facts, found)


def deleted(phases: Iterable[Sequence[Statement]]) -> list[tuple[str, str, dict[str, object]]]:
    return [d for phase in phases for s in phase for d in deletes(s)]


def keys_in(
    found: Iterable[tuple[str, str, dict[str, object]]], keyspace: str, table: str
) -> set[tuple[object, ...]]:
    return {tuple(key.values()) for ks, name, key in found if (ks, name) == (keyspace, table)}


@pytest.mark.parametrize("schema", sorted(ce.STATEMENTS))
def test_every_statement_names_keys_and_columns_of_its_table(schema: str) -> None:
    tables = tables_of(schema)
    for template in ce.STATEMENTS[schema]:
        assert template.count("{ks}.") == len(parts(template)), template
        for part in parts(template.replace("{ks}", "ks_v1")):
            if part.startswith("DELETE"):
                m = _DELETE.fullmatch(part)
                assert m is not None, part  # every delete carries the erasure's timestamp
                _, name, where = m.groups()
                where_columns(where, tables[name])
                continue
            s = _SELECT.fullmatch(part)
            assert s is not None, part  # reads name a partition: no scans, no ALLOW FILTERING
            selected, _, name, where = s.groups()
            table = tables[name]
            where_columns(where, table)
            assert set(selected.split(", ")) <= set(table.columns), part


def test_every_delete_names_a_full_partition_key_and_a_clustering_prefix() -> None:
    phases = plan()
    assert len(phases) == 3
    found = deleted(phases)  # every statement checked against its keyspace's schema
    assert len(found) == sum(len(parts(cql)) for phase in phases for cql, _ in phase)
    assert all(len(parts(cql)) == 1 or "BEGIN BATCH" in cql for p in phases for cql, _ in p)


def test_every_table_of_every_keyspace_is_covered() -> None:
    found = deleted(plan())
    for keyspace, schema in SCHEMA_OF.items():
        covered = {name for ks, name, _ in found if ks == keyspace}
        assert covered == set(tables_of(schema)), keyspace


def test_the_plan_is_the_same_every_time() -> None:
    assert plan() == plan()  # a re-run writes the same tombstones: idempotent


# --- what goes -----------------------------------------------------------------------------------
def test_the_user_row_and_both_sides_of_every_edge_go() -> None:
    found = deleted(plan())
    for ks in KEYSPACES.graph:
        assert keys_in(found, ks, "users") == {(USER,)}
        # the user's row among their followees' followers: state times and the user's own rows
        assert {k for k in keys_in(found, ks, "followers") if len(k) == 3} == {
            (21, 200, USER), (21, 210, USER), (22, 220, USER),
        }  # fmt: skip
        assert {k for k in keys_in(found, ks, "following") if len(k) == 3} == {
            (11, 100, USER), (12, 110, USER),
        }  # fmt: skip
        assert {k for k in keys_in(found, ks, "followers") if len(k) == 1} == {(USER,)}
        assert {k for k in keys_in(found, ks, "following") if len(k) == 1} == {(USER,)}
        assert keys_in(found, ks, "follow_edges") == {
            (USER,), (11, USER), (12, USER), (13, USER),
        }  # fmt: skip


def test_the_posts_of_the_facts_and_of_the_timeline_go() -> None:
    found = deleted(plan())
    for ks in KEYSPACES.posts:
        assert keys_in(found, ks, "posts") == {(31,), (32,), (33,)}
        assert keys_in(found, ks, "timelines") == {(USER,)}
        assert keys_in(found, ks, "timeline_posts") == {(USER,)}


def test_the_users_comments_and_the_notices_they_caused_go_and_others_stay() -> None:
    found = deleted(plan())
    for ks in KEYSPACES.engagement:
        assert keys_in(found, ks, "comments") == {(51,), (53,), (55,)}  # not 54: someone else's
        assert keys_in(found, ks, "comments_by_post") == {(42, 290, 51), (31, 300, 53)}
        assert keys_in(found, ks, "notification_events") == {
            (USER,),  # their own partition
            (21, 41, like_bundle(41), USER),
            (21, 42, comment_bundle(42, 51), USER),
            (21, NO_POST, FOLLOW_SUBJECT, USER),
            (22, NO_POST, FOLLOW_SUBJECT, USER),  # everyone they followed, without a read
            (23, NO_POST, FOLLOW_SUBJECT, USER),
        }  # not 52 (someone else's comment) nor the like in 11's partition
        assert keys_in(found, ks, "notification_gone") == {(USER,)}
        assert keys_in(found, ks, "notification_reads") == {(USER,)}


def test_a_comment_and_its_row_go_together() -> None:
    phases = plan()
    batches = [params for phase in phases for cql, params in phase if "BEGIN BATCH" in cql]
    assert len(batches) == 2 * len(KEYSPACES.engagement)
    for params in batches:
        _, post, ms, by_post_comment, _, comment_id = params
        assert by_post_comment == comment_id
        assert (post, ms, comment_id) in {(42, 290, 51), (31, 300, 53)}


def test_the_facts_alone_reach_what_they_name() -> None:
    """After a crash that removed every index, a re-run still erases what the facts name."""
    found = deleted(plan(Found()))
    graph, feeds, eng = KEYSPACES.graph[0], KEYSPACES.posts[0], KEYSPACES.engagement[0]
    assert keys_in(found, graph, "follow_edges") == {(USER,), (11, USER), (13, USER)}
    assert keys_in(found, feeds, "posts") == {(31,), (32,)}
    assert keys_in(found, eng, "notification_events") == {
        (USER,), (21, NO_POST, FOLLOW_SUBJECT, USER), (23, NO_POST, FOLLOW_SUBJECT, USER),
    }  # fmt: skip


def test_an_index_goes_after_what_is_found_through_it() -> None:
    first, caused, last = ([d[1:] for s in phase for d in deletes(s)] for phase in plan())
    # the notification rows the user caused in others' partitions index their comments
    assert caused
    for table, key in caused:
        assert table == "notification_events"
        assert key["actor_id"] == USER
        assert key["recipient_id"] != USER
    # last: the edge state, the user's sorted partitions and timeline, read to find the rest
    indexes = {("follow_edges", ("follower_id",)), ("follow_edges", ("follower_id", "followee_id")),
               ("followers", ("user_id",)), ("following", ("user_id",)),
               ("timelines", ("author_id",)), ("timeline_posts", ("author_id",)),
               ("relations", ("user_id",)), ("relation_list", ("user_id", "kind")),
               ("follow_request_steps", ("owner_id",)), ("requested", ("requester_id",)),
               ("privacy_switches", ("user_id",))}  # fmt: skip
    assert {(table, tuple(key)) for table, key in last} == indexes
    assert not {(table, tuple(key)) for table, key in first} & indexes
    assert {table for table, _ in first} == {
        "users", "followers", "following", "posts", "comments", "comments_by_post",
        "notification_events", "notification_gone", "notification_reads",
    }  # fmt: skip
    assert all(key == {"recipient_id": USER} for t, key in first if t == "notification_events")


# --- the pieces ----------------------------------------------------------------------------------
def test_the_erasure_timestamp_is_above_every_write() -> None:
    assert ERASED_AT == MAX_TIMESTAMP - 1  # a read mark is capped there; a tombstone wins a tie
    ids = SnowflakeGenerator(1023)
    assert ids.next_id() < ERASED_AT
    now_ms = time.time_ns() // 1_000_000
    # why not a plain DELETE: the server stamps it in microseconds, below every event id of today
    assert now_ms * 1000 < min_id_at(now_ms)


def test_comment_candidates_come_from_the_users_comment_notices_and_their_posts() -> None:
    rows = [
        notice(21, 42, comment_bundle(42, 51), USER),
        notice(21, 42, comment_bundle(42, 52), 8),
        notice(21, 41, like_bundle(41), USER),
        notice(21, 41, "comment:41:x", USER),  # malformed: ignored
        notice(21, NO_POST, FOLLOW_SUBJECT, USER),
    ]
    by_post = [{"post_id": 31, "created_ms": 1, "comment_id": 54}]
    assert ce.comment_candidates(USER, rows, by_post) == [51, 54]
    assert ce.comment_candidates(USER, [], []) == []


def test_neighbours_and_followees_join_the_facts_and_every_keyspace() -> None:
    graphs = [GRAPH, GraphFound(out_edges=[edge("followee_id", 24, None)])]
    assert ce.followees(USER, FACTS, graphs) == [21, 22, 23, 24]
    assert ce.neighbours(USER, FACTS, graphs) == [11, 12, 13, 21, 22, 23, 24]
    assert ce.follower_candidates(FACTS, GRAPH.followers) == [11, 12, 13]
    assert ce.user_posts(FACTS, [TIMELINE, []]) == [31, 32, 33]


def test_keyspaces() -> None:
    assert CassandraKeyspaces.at([3, 4], [1], [2]) == CassandraKeyspaces(
        ["photofeed_graph_v3", "photofeed_graph_v4"], ["photofeed_feeds_v1"],
        ["photofeed_engagement_v2"],
    )  # fmt: skip
    assert CassandraKeyspaces.at([], [], [], prefix="pft0").graph == []
    for bad in ("Graph", "ks; DROP KEYSPACE x", "1ks", "k" * 49):
        with pytest.raises(ValueError, match="keyspace"):
            CassandraKeyspaces([bad], [], [])


# --- erase_user on a stub store -----------------------------------------------------------------
class StubStore(CassandraStore):
    """Answers each SELECT with canned rows and records the reads and each `run`: a stand-in for
    the driver's session to check what `erase_user` asks, not a model of Cassandra."""

    def __init__(self, rows: dict[tuple[str, tuple[object, ...]], list[Row]]) -> None:
        super().__init__(cluster=None, session=None)
        self.rows = rows
        self.reads: list[tuple[str, tuple[object, ...]]] = []
        self.runs: list[list[tuple[str, tuple[object, ...]]]] = []

    async def execute(self, cql: str, params: Sequence[Any] = ()) -> list[Row]:
        assert cql.startswith("SELECT"), cql  # writes go through `run`
        self.reads.append((cql, tuple(params)))
        return list(self.rows.get((cql, tuple(params)), []))

    async def run(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        self.runs.append([(cql, tuple(params)) for cql, params in statements])


def canned() -> dict[tuple[str, tuple[object, ...]], list[Row]]:
    rows: dict[tuple[str, tuple[object, ...]], list[Row]] = {}
    for ks in KEYSPACES.graph:
        rows[(ce._q(ce.OUT_EDGES, ks), (USER,))] = GRAPH.out_edges
        rows[(ce._q(ce.OWN_FOLLOWING, ks), (USER,))] = GRAPH.following
        rows[(ce._q(ce.OWN_FOLLOWERS, ks), (USER,))] = GRAPH.followers
        rows[(ce._q(ce.IN_EDGE, ks), (11, USER))] = GRAPH.in_edges
    for ks in KEYSPACES.posts:
        rows[(ce._q(ce.TIMELINE_STATE, ks), (USER,))] = TIMELINE[:1]
        rows[(ce._q(ce.TIMELINE, ks), (USER,))] = TIMELINE[1:]
    for ks in KEYSPACES.engagement:
        for recipient in (11, 21):
            rows[(ce._q(ce.NOTICES_IN, ks), (recipient,))] = [
                r for r in ENGAGEMENT.notices if r["recipient_id"] == recipient
            ]
        rows[(ce._q(ce.POST_COMMENTS, ks), (31,))] = ENGAGEMENT.by_post
        for row in ENGAGEMENT.comments:
            rows[(ce._q(ce.COMMENT_ROW, ks), (row["comment_id"],))] = [row]
    return rows


async def test_erase_user_reads_then_deletes_in_phases() -> None:
    store = StubStore(canned())
    await ce.erase_user(store, KEYSPACES, USER, FACTS)
    reads = set(store.reads)
    g, e = KEYSPACES.graph[0], KEYSPACES.engagement[0]
    in_edges = {p for cql, p in reads if cql == ce._q(ce.IN_EDGE, g)}
    assert in_edges == {(11, USER), (12, USER), (13, USER)}
    assert {p for cql, p in reads if cql == ce._q(ce.NOTICES_IN, e)} == {
        (o,) for o in (11, 12, 13, 21, 22, 23)
    }
    assert {p for cql, p in reads if cql == ce._q(ce.POST_COMMENTS, e)} == {(31,), (32,), (33,)}
    # comment 51 through the notification, 53 and 54 through the post (54's row says: not theirs)
    assert {p for cql, p in reads if cql == ce._q(ce.COMMENT_ROW, e)} == {(51,), (53,), (54,)}
    mine = EngagementFound(
        [r for r in ENGAGEMENT.notices if r["actor_id"] == USER],
        ENGAGEMENT.by_post[:1],
        ENGAGEMENT.comments[:2],
    )  # what the reads keep: the user's rows only
    expected = plan(Found(FOUND.graph, FOUND.posts, dict.fromkeys(KEYSPACES.engagement, mine)))
    assert store.runs == [[(cql, tuple(p)) for cql, p in phase] for phase in expected]
    assert deleted(store.runs)  # every statement valid against the schemas


async def test_erase_user_runs_large_phases_in_chunks() -> None:
    followers = list(range(1000, 1000 + ce.CHUNK + 5))
    facts = ErasureFacts(followers=followers, following=[], posts=[], photos=[], contents=[])
    store = StubStore({})
    await ce.erase_user(store, CassandraKeyspaces(["pf_graph_v1"], [], []), USER, facts)
    # users; edges; + partitions (edges 3, relations 1 + their lists 4, follow requests 3)
    assert [len(run) for run in store.runs] == [1, ce.CHUNK, 5 + 3 + 5 + 3]
