"""The pure parts of the Cassandra adapters, checked without a server: the schema files, the
statements against the schema, write timestamps, how a write moves a sorted index's row, and how
rows become views (users, edges, posts, comments, notifications)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest

from projections.backends.cassandra import (
    MAX_TIMESTAMP,
    Cell,
    Membership,
    TableSchema,
    keyspace_name,
    membership,
    moves,
    new_cluster,
    parse_hosts,
    parse_tables,
    schema_statements,
    schema_text,
    write_timestamp,
)
from projections.engagement import cassandra as cassandra_engagement
from projections.engagement.cassandra import (
    FOLLOW_SUBJECT,
    NO_POST,
    Contribution,
    comment_view,
    notice_page,
    notices,
)
from projections.engagement.logic import DAY_MS, comment_bundle, follow_bundle, like_bundle
from projections.engagement.ports import CommentView, Notice
from projections.feeds import cassandra as cassandra_posts
from projections.feeds.cassandra import FIELD_COLUMNS, post_cells, post_view
from projections.feeds.logic import FeedFacts, feed_writes
from projections.graph import cassandra as cassandra_graph
from projections.graph.cassandra import edge_page, user_view
from projections.graph.ports import Edge, UserView
from projections.ports import Position
from projections.writes import PutPost
from schemas import events as ev
from schemas.ids import SnowflakeGenerator

SCHEMAS = {"graph.cql": cassandra_graph, "posts.cql": cassandra_posts,
           "engagement.cql": cassandra_engagement}  # fmt: skip
MS = 1_772_366_400_000


def tables_of(schema: str) -> dict[str, TableSchema]:
    return parse_tables(schema_statements(schema_text(schema), "ks_v1", 1))


# --- schema files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_schema_files_parse_into_statements_for_one_keyspace(schema: str) -> None:
    statements = schema_statements(schema_text(schema), "photofeed_graph_v3", 3)
    assert statements[0] == (
        "CREATE KEYSPACE IF NOT EXISTS photofeed_graph_v3 WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 3}"
    )
    assert len(statements) > 1
    for stmt in statements[1:]:
        assert stmt.startswith("CREATE TABLE IF NOT EXISTS photofeed_graph_v3."), stmt
    text = " ".join(statements)
    for leftover in ("{keyspace}", "{replication}", "--", ";"):
        assert leftover not in text
    tables = parse_tables(statements)
    assert len(tables) == len(statements) - 1
    for table in tables.values():
        assert table.partition, table
        assert set(table.key) <= set(table.columns), table


def test_schema_substitution_refuses_bad_names() -> None:
    with pytest.raises(ValueError, match="keyspace"):
        schema_statements(schema_text("graph.cql"), "x; DROP KEYSPACE y", 1)
    with pytest.raises(ValueError, match="replication"):
        schema_statements(schema_text("graph.cql"), "ks", 0)


def test_keyspace_names() -> None:
    assert keyspace_name("graph", 3) == "photofeed_graph_v3"
    assert keyspace_name("engagement", 12, "pft0a1b") == "pft0a1b_engagement_v12"
    for group, version, prefix in (("Graph", 1, "photofeed"), ("graph", -1, "photofeed"),
                                   ("graph", 1, "p" * 50), ("gr-aph", 1, "photofeed")):  # fmt: skip
        with pytest.raises(ValueError, match="keyspace"):
            keyspace_name(group, version, prefix)


def test_tables_have_the_keys_the_readers_page_by() -> None:
    graph, posts, eng = tables_of("graph.cql"), tables_of("posts.cql"), tables_of("engagement.cql")
    desc = "DESC"
    assert graph["users"].key == ("user_id",)
    assert graph["follow_edges"].partition == ("follower_id",)
    assert graph["follow_edges"].clustering == (("followee_id", "ASC"),)
    assert graph["followers"].partition == ("user_id",)
    assert graph["followers"].clustering == (("followed_ms", desc), ("follower_id", desc))
    assert graph["following"].partition == ("user_id",)
    assert graph["following"].clustering == (("followed_ms", desc), ("followee_id", desc))
    assert posts["posts"].key == ("post_id",)
    assert posts["timeline_posts"].key == ("author_id", "post_id")
    assert posts["timelines"].partition == ("author_id",)
    assert posts["timelines"].clustering == (("published_ms", desc), ("post_id", desc))
    assert eng["comments"].key == ("comment_id",)
    assert eng["comments_by_post"].partition == ("post_id",)
    assert eng["comments_by_post"].clustering == (("created_ms", "ASC"), ("comment_id", "ASC"))
    events = eng["notification_events"]
    assert events.partition == ("recipient_id",)
    # a retraction deletes a clustering prefix: (post) or (post, subject, actor)
    assert [c for c, _ in events.clustering] == ["post_id", "subject", "actor_id", "event_id"]
    assert events.ttl_s == eng["notification_gone"].ttl_s == 90 * 24 * 3600
    assert eng["notification_reads"].key == ("user_id",)
    assert eng["notification_reads"].ttl_s is None
    for tables in (graph, posts, eng):  # no counters: they are not idempotent
        assert not any("counter" in t for table in tables.values() for t in table.columns.values())


_CQL_WORDS = {"select", "from", "where", "and", "insert", "into", "values", "using", "timestamp",
              "update", "set", "delete", "limit", "in", "count", "as", "writetime", "null", "true",
              "false"}  # fmt: skip


@pytest.mark.parametrize("schema", sorted(SCHEMAS))
def test_every_statement_names_columns_of_its_table(schema: str) -> None:
    tables = tables_of(schema)
    for template in SCHEMAS[schema].STATEMENTS:
        cql = template.replace("{ks}.", "")
        assert "{" not in cql, cql
        found = re.search(r"\b(?:FROM|INTO|UPDATE) (\w+)", cql)
        assert found is not None, cql
        assert found.group(1) in tables, cql
        table = tables[found.group(1)]
        aliases = set(re.findall(r"\bAS (\w+)", cql))
        words = set(re.findall(r"[A-Za-z_]\w*", cql)) - aliases - {table.name}
        unknown = {w for w in words if w.lower() not in _CQL_WORDS and w not in table.columns}
        assert not unknown, (cql, unknown)
        if cql.startswith(("UPDATE", "INSERT", "DELETE")):
            assert "USING TIMESTAMP ?" in cql, cql  # every write carries its event's timestamp
            if cql.startswith("UPDATE"):
                where = cql.split(" WHERE ", 1)[1]
                assert re.findall(r"(\w+) = \?", where) == list(table.key), cql  # one row


# --- write timestamps -----------------------------------------------------------------------------
def test_a_version_is_its_own_write_timestamp() -> None:
    ids = SnowflakeGenerator(7, clock=itertools.count(MS, 3).__next__)
    versions = [ids.next_id() for _ in range(50)]
    stamps = [write_timestamp(v) for v in versions]
    assert stamps == versions
    assert stamps == sorted(stamps)  # later events win last-write-wins
    assert write_timestamp(MAX_TIMESTAMP - 1) == MAX_TIMESTAMP - 1
    for bad in (0, -1, MAX_TIMESTAMP, 1 << 63):
        with pytest.raises(ValueError, match="timestamp"):
            write_timestamp(bad)


# --- sorted-index moves ---------------------------------------------------------------------------
def test_a_write_merges_cell_by_cell() -> None:
    state = Membership().merge(True, 10, 5)
    assert state == Membership(Cell(True, 5), Cell(10, 5))
    assert state.row == 10
    assert state.merge(False, None, 3) == state  # older: loses
    assert state.merge(True, 10, 5) == state  # redelivered
    gone = state.merge(False, None, 7)
    assert gone == Membership(Cell(False, 7), Cell(10, 5))  # a removal keeps the old time
    assert gone.row is None
    assert gone.merge(True, 30, 6) == Membership(Cell(False, 7), Cell(30, 6))  # older join: out
    assert moves(state, gone) == (10, None)
    assert moves(gone, gone.merge(True, 40, 9)) == (None, 40)
    assert moves(state, state.merge(True, 40, 9)) == (10, 40)  # a re-join at a new time
    assert moves(state, state.merge(True, 10, 9)) == (None, 10)  # same row: no delete


class TimestampedRows:
    """A model of a sorted table's rows under write timestamps, to check `moves` against: a row
    shows when its newest insert is newer than its newest delete (a delete wins a tie)."""

    def __init__(self) -> None:
        self.inserted: dict[int, int] = {}
        self.deleted: dict[int, int] = {}

    def apply(self, before: Membership, after: Membership, ts: int) -> None:
        old, new = moves(before, after)
        if old is not None:
            self.deleted[old] = max(self.deleted.get(old, 0), ts)
        if new is not None:
            self.inserted[new] = max(self.inserted.get(new, 0), ts)

    def visible(self) -> set[int]:
        return {k for k, ts in self.inserted.items() if ts > self.deleted.get(k, 0)}


Op = tuple[bool, int, int]  # (present, ms, timestamp)
OPS: list[Op] = [(True, 10, 1), (False, 0, 2), (True, 30, 3), (True, 10, 4), (False, 0, 5)]


def _run(ops: list[Op], interrupted: int | None = None) -> tuple[Membership, set[int]]:
    state, rows = Membership(), TimestampedRows()
    for i, (present, ms, ts) in enumerate(ops):
        after = state.merge(present, ms if present else None, ts)
        rows.apply(state, after, ts)
        if i != interrupted:  # an interrupted write moved its rows but did not write the state
            state = after
    return state, rows.visible()


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_any_order_and_redelivery_leave_the_newest_writes_row(size: int) -> None:
    for ops in itertools.permutations(OPS, size):
        newest = max(ops, key=lambda op: op[2])
        joins = [op for op in ops if op[0]]
        expected = {max(joins, key=lambda op: op[2])[1]} if newest[0] else set()
        sequence = list(ops)
        for attempt in (sequence, sequence + sequence, sequence[:1] + sequence):
            assert _run(attempt)[1] == expected, attempt
        for i in range(len(sequence)):  # interrupted, then redelivered from that write on
            assert _run(sequence[: i + 1] + sequence[i:], interrupted=i)[1] == expected


def test_state_rows_become_memberships() -> None:
    assert membership(None, "active", "followed_ms") == Membership()
    row = {"active": True, "active_ts": 7, "followed_ms": 10, "followed_ms_ts": 5}
    assert membership(row, "active", "followed_ms") == Membership(Cell(True, 7), Cell(10, 5))
    deleted = {"deleted": True, "deleted_ts": 9, "created_ms": None, "created_ms_ts": None}
    assert membership(deleted, "deleted", "created_ms", negate=True) == Membership(Cell(False, 9))


# --- rows -> views --------------------------------------------------------------------------------
def test_user_rows() -> None:
    row = {"user_id": 1, "username": "ana", "created_ms": MS, "avatar_url": "https://a"}
    assert user_view(1, row) == UserView(1, "ana", "https://a", MS)
    assert user_view(1, {**row, "avatar_url": None}) == UserView(1, "ana", None, MS)
    assert user_view(1, {**row, "avatar_url": ""}) == UserView(1, "ana", None, MS)
    assert user_view(1, None) is None
    assert user_view(1, {"username": None, "avatar_url": "https://a"}) is None  # avatar only


def test_edge_pages() -> None:
    rows = [
        {"id": 9, "followed_ms": 30},
        {"id": 8, "followed_ms": 20},
        {"id": 7, "followed_ms": 20},
    ]
    page = edge_page(rows, 2)
    assert page.items == [Edge(9, 30), Edge(8, 20)]
    assert page.next == Position(20, 8)
    assert edge_page(rows, 3).next is None
    assert edge_page([], 3).items == []


def test_post_fields_become_columns_and_rows_views() -> None:
    e = ev.PostPublished(
        event_id=5, occurred_at=datetime(2026, 3, 1, 12, tzinfo=UTC), actor_id=11, post_id=77,
        photo_id=77, caption="sunset", tags=("sea", "sky"),
        variants=ev.Variants(thumbnail="t", feed="f", full="x"), width=1080, height=720,
        blurhash="LEH", alt_text=None,
    )  # fmt: skip
    [put] = [w for w in feed_writes([e], FeedFacts()) if isinstance(w, PutPost)]
    # every field has a column but the post card: pre-rendered JSON for Valkey's one-call pages
    # (projections/pages/pages.lua), which Cassandra-backed deployments do not serve from
    assert {name for name, _ in put.fields} - set(FIELD_COLUMNS) == {"card"}
    cells = post_cells(put.fields)
    assert cells == {
        "author_id": 11, "caption": "sunset", "tags": ["sea", "sky"], "variant_thumbnail": "t",
        "variant_feed": "f", "variant_full": "x", "width": 1080, "height": 720, "blurhash": "LEH",
        "alt_text": None, "published_ms": MS, "mentions": None,
    }  # fmt: skip
    view = post_view(77, cells)
    assert view is not None
    assert (view.author_id, view.tags, view.variants, view.alt_text, view.published_ms) == (
        11, ("sea", "sky"), {"thumbnail": "t", "feed": "f", "full": "x"}, None, MS,
    )  # fmt: skip
    assert post_cells((("deleted", "1"),)) == {"deleted": True}
    assert post_cells((("tags", ""), ("sha256", "ab"))) == {"tags": None}  # no column: not kept
    assert post_view(77, {**cells, "deleted": True}) is None
    assert post_view(77, {"deleted": True}) is None  # a tombstone alone
    assert post_view(77, None) is None
    bare = post_view(77, {"author_id": 11})
    assert bare is not None
    assert (bare.caption, bare.tags, bare.variants, bare.width, bare.blurhash) == (
        "",
        (),
        {},
        0,
        "",
    )


def test_comment_rows() -> None:
    row = {"comment_id": 5, "post_id": 7, "commenter_id": 3, "body": "hi", "created_ms": MS,
           "deleted": False}  # fmt: skip
    assert comment_view(5, row) == CommentView(5, 7, 3, "hi", MS)
    assert comment_view(5, {**row, "body": ""}) == CommentView(5, 7, 3, "", MS)
    assert comment_view(5, {**row, "deleted": True, "body": None}) is None
    assert comment_view(5, {**row, "deleted": True}) is None
    assert comment_view(5, {**row, "body": None}) is None  # a deleted comment keeps no body
    assert comment_view(5, None) is None


# --- notifications --------------------------------------------------------------------------------
def like(actor: int, event: int, at: int, post: int = 70) -> Contribution:
    return Contribution(post, like_bundle(post), actor, event, MS + at)


def follow(actor: int, event: int, at: int) -> Contribution:
    return Contribution(NO_POST, FOLLOW_SUBJECT, actor, event, MS + at)


def test_likes_group_newest_actor_first() -> None:
    rows = [like(21, 101, 1), like(22, 102, 2), like(23, 103, 3), like(24, 104, 4)]
    [note] = notices(rows, set(), 0)
    assert note == Notice(like_bundle(70), 104, MS + 4, [24, 23, 22], 4, False)
    rows += [like(24, 105, 5)]  # a repeated like: the actor's oldest row counts
    assert notices(rows, set(), 0) == [note]
    ties = [like(5, 201, 1), like(40, 202, 1), like(300, 203, 1)]
    [tied] = notices(ties, set(), 0)
    assert tied.actors == [5, 40, 300]  # equal times: as Redis orders members (bytes, descending)


def test_groups_comments_follows_gone_posts_and_reads() -> None:
    rows = [
        like(21, 101, 10),
        Contribution(70, comment_bundle(70, 900), 22, 102, MS + 20),
        Contribution(71, comment_bundle(71, 901), 23, 103, MS + 30),
        follow(40, 104, 40), follow(41, 105, DAY_MS), follow(42, 106, 50),
    ]  # fmt: skip
    found = notices(rows, {71}, read_up_to=104)
    assert [(n.bundle, n.actors, n.actor_count, n.read) for n in found] == [
        (follow_bundle(MS + DAY_MS), [41], 1, False),
        (follow_bundle(MS), [42, 40], 2, False),
        (comment_bundle(70, 900), [22], 1, True),
        (like_bundle(70), [21], 1, True),
    ]  # fmt: skip
    assert (found[1].newest_id, found[1].at_ms) == (106, MS + 50)
    assert notices(rows, set(), 0, cap=2) == notices(rows, set(), 0)[:2]
    assert notices([], set(), 0) == []


def test_notice_pages_follow_the_ms_group_cursor() -> None:
    rows = [like(21, 100 + p, p // 2, post=p) for p in range(60, 67)]
    items = notices(rows, set(), 0)
    assert [(n.at_ms, n.bundle) for n in items] == sorted(
        ((n.at_ms, n.bundle) for n in items), reverse=True
    )
    first = notice_page(items, 3, None)
    assert first.items == items[:3]
    assert first.next == (items[2].at_ms, items[2].bundle)
    rest = notice_page(items, 10, first.next)
    assert (rest.items, rest.next) == (items[3:], None)
    assert notice_page(items, 7, None).next is None
    assert notice_page([], 5, None).items == []


# --- connecting -----------------------------------------------------------------------------------
def test_hosts_and_cluster_settings() -> None:
    assert parse_hosts(" 10.0.0.1, cass-2 ,,") == ["10.0.0.1", "cass-2"]
    with pytest.raises(ValueError, match="hosts"):
        parse_hosts(" , ")
    cluster = new_cluster("127.0.0.1", 9043)  # configured only: nothing connects
    try:
        assert (cluster.contact_points, cluster.port) == (["127.0.0.1"], 9043)
    finally:
        cluster.shutdown()
