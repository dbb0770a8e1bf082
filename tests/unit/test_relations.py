"""Blocks and mutes as pure logic: the one rule (truth table), the writes each event implies in
the graph, feeds and engagement groups, and the seq-guarded state ending the same whatever the
order of delivery (projections/graph/relations.py)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.engagement.logic import on_blocked as engagement_on_blocked
from projections.erasure import cassandra as ce
from projections.erasure.cassandra import (
    ERASED_AT,
    CassandraKeyspaces,
    Found,
    GraphFound,
    erase_statements,
)
from projections.erasure.redis import ErasureFacts
from projections.feeds.logic import FeedFacts, facts_needed, feed_writes
from projections.graph.cassandra import MIRROR, RELATION_KINDS, relation_sides
from projections.graph.handlers import on_blocked, on_muted, on_unblocked, on_unmuted
from projections.graph.relations import NONE, Relation, RelationBook, blocked, hides_activity
from projections.graph.requests import EDGE
from projections.groups import Group, writes_for
from projections.writes import (
    FeedRemove,
    SetBlock,
    SetFollow,
    SetFollowNotice,
    SetFollowRequest,
    SetMute,
)
from schemas import events as ev

AT = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
MS = int(AT.timestamp() * 1000)
A, B, C = 11, 12, 13


def event(kind: Any, actor: int, other: int, seq: int) -> Any:
    """A block, unblock, mute or unmute of `other` by `actor` (event id and ms offset `seq`)."""
    field = "blocked_id" if kind in (ev.UserBlocked, ev.UserUnblocked) else "muted_id"
    at = AT + timedelta(milliseconds=seq)
    return kind(event_id=seq, occurred_at=at, actor_id=actor, **{field: other})


# --- the rule ------------------------------------------------------------------------------------
def test_the_truth_table() -> None:
    for blocks, blocked_by, mutes in itertools.product((False, True), repeat=3):
        r = Relation(blocks, blocked_by, mutes)
        assert blocked(r) == (blocks or blocked_by)  # a block either way separates both
        assert hides_activity(r) == (blocks or blocked_by or mutes)  # a mute: feed and inbox only
    assert Relation() == NONE
    assert not blocked(NONE)
    assert not hides_activity(NONE)


# --- the writes ----------------------------------------------------------------------------------
def test_a_block_is_kept_on_both_sides_and_ends_the_follows_and_requests_both_ways() -> None:
    writes = on_blocked(event(ev.UserBlocked, A, B, 500))
    at = MS + 500
    assert writes == [
        SetBlock(A, B, at, True, 500),
        SetFollow(A, B, at, False, 500), SetFollowRequest(B, A, EDGE, 0, 500),
        SetFollow(B, A, at, False, 500), SetFollowRequest(A, B, EDGE, 0, 500),
    ]  # fmt: skip


def test_an_unblock_restores_nothing_and_mutes_touch_nothing_else() -> None:
    assert on_unblocked(event(ev.UserUnblocked, A, B, 7)) == [SetBlock(A, B, MS + 7, False, 7)]
    assert on_muted(event(ev.UserMuted, A, B, 8)) == [SetMute(A, B, MS + 8, True, 8)]
    assert on_unmuted(event(ev.UserUnmuted, A, B, 9)) == [SetMute(A, B, MS + 9, False, 9)]


def test_acting_on_yourself_writes_nothing_anywhere() -> None:
    for kind in (ev.UserBlocked, ev.UserUnblocked, ev.UserMuted, ev.UserUnmuted):
        e = event(kind, A, A, 5)
        for group in (Group.GRAPH, Group.ENGAGEMENT):
            assert writes_for(group, [e]) == []
        assert writes_for(Group.FEEDS, [e], FeedFacts(timelines={A: [(1, 1)]})) == []


def test_the_feeds_treat_a_block_as_the_two_unfollows() -> None:
    block = event(ev.UserBlocked, A, B, 40)
    assert facts_needed([block]).timelines_of == {A, B}
    facts = FeedFacts(timelines={A: [(101, 1), (102, 2)], B: [(201, 3)]})
    assert feed_writes([block], facts) == [FeedRemove(((A, 201), (B, 101), (B, 102)))]
    assert feed_writes([block], FeedFacts()) == []  # neither has posts
    mute = event(ev.UserMuted, A, B, 41)  # a mute is filtered at read time: nothing to purge
    assert facts_needed([mute]).timelines_of == frozenset()
    assert feed_writes([mute], facts) == []


def test_the_follow_notifications_both_ways_are_retracted() -> None:
    writes = engagement_on_blocked(event(ev.UserBlocked, A, B, 50))
    assert writes == [SetFollowNotice(B, A, MS + 50, False, 50),
                      SetFollowNotice(A, B, MS + 50, False, 50)]  # fmt: skip


def test_cassandra_keeps_each_relation_and_its_mirror() -> None:
    assert relation_sides(SetBlock(A, B, 5, True, 9)) == [
        (A, "blocks", B, 5, True, 9),
        (B, "blocked_by", A, 5, True, 9),
    ]
    assert relation_sides(SetMute(A, B, 5, False, 9)) == [
        (A, "mutes", B, 5, False, 9),
        (B, "muted_by", A, 5, False, 9),
    ]
    assert {MIRROR[MIRROR[k]] for k in RELATION_KINDS} == set(RELATION_KINDS)


# --- seq-guarded state ---------------------------------------------------------------------------
KINDS = (ev.UserBlocked, ev.UserUnblocked, ev.UserMuted, ev.UserUnmuted)
steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.sampled_from([A, B, C]), st.sampled_from([A, B, C])),
    max_size=25,
)


def book_of(events: list[ev.Event]) -> RelationBook:
    book = RelationBook()
    book.apply(writes_for(Group.GRAPH, events))
    return book


def expected(events: list[ev.Event], viewer: int, other: int) -> Relation:
    """The relation as the newest event of each (actor, other, kind) says, read off the log."""

    def newest(actor: int, target: int, on: type[ev.Event], off: type[ev.Event]) -> bool:
        about = [e for e in events if isinstance(e, on | off) and e.actor_id == actor
                 and getattr(e, "blocked_id", getattr(e, "muted_id", None)) == target]  # fmt: skip
        return bool(about) and isinstance(max(about, key=lambda e: e.event_id), on)

    if viewer == other:
        return NONE
    return Relation(
        newest(viewer, other, ev.UserBlocked, ev.UserUnblocked),
        newest(other, viewer, ev.UserBlocked, ev.UserUnblocked),
        newest(viewer, other, ev.UserMuted, ev.UserUnmuted),
    )


@given(steps, st.randoms(use_true_random=False))
def test_any_order_and_redelivery_end_in_the_newest_state(
    plan: list[tuple[type[ev.Event], int, int]], rng: random.Random
) -> None:
    events = [event(kind, a, b, seq) for seq, (kind, a, b) in enumerate(plan, start=1)]
    shuffled = list(events)
    rng.shuffle(shuffled)
    in_order, any_order = book_of(events), book_of(shuffled + events[: len(events) // 2])
    for viewer, other in itertools.product((A, B, C), repeat=2):
        assert in_order.relation(viewer, other) == expected(events, viewer, other)
        assert any_order.relation(viewer, other) == in_order.relation(viewer, other)
    for user in (A, B, C):
        for kind in ("blocks", "mutes"):
            assert any_order.listed(kind, user) == in_order.listed(kind, user)


def test_lists_are_newest_first_and_hold_only_current_ones() -> None:
    book = book_of([event(ev.UserBlocked, A, B, 1), event(ev.UserBlocked, A, C, 2),
                    event(ev.UserMuted, A, C, 3), event(ev.UserUnblocked, A, B, 4)])  # fmt: skip
    assert book.listed("blocks", A) == [(C, MS + 2)]
    assert book.listed("mutes", A) == [(C, MS + 3)]
    assert book.relation(C, A) == Relation(blocked_by=True)
    assert book.relation(B, A) == NONE


def test_the_cassandra_erasure_reaches_the_other_side_of_every_relation() -> None:
    ks, user = "pf_graph_v1", 7
    found = GraphFound(
        relations=[{"kind": "blocks", "other_id": 21, "since_ms": 5},
                   {"kind": "muted_by", "other_id": 22, "since_ms": 6}],
        listed=[{"kind": "blocks", "since_ms": 4, "other_id": 21}],  # a move cut short
    )  # fmt: skip
    facts = ErasureFacts(followers=[], following=[], posts=[], photos=[], contents=[])
    first, _, last = erase_statements(
        CassandraKeyspaces([ks], [], []), user, facts, Found(graph={ks: found})
    )
    q = ce._q
    assert {(cql, params) for cql, params in first if "relation" in cql} == {
        (q(ce.DELETE_AS_RELATED, ks), (ERASED_AT, 21, "blocked_by", user)),
        (q(ce.DELETE_AS_RELATED, ks), (ERASED_AT, 22, "mutes", user)),
        (q(ce.DELETE_AS_LISTED, ks), (ERASED_AT, 21, "blocked_by", 4, user)),
        (q(ce.DELETE_AS_LISTED, ks), (ERASED_AT, 21, "blocked_by", 5, user)),
        (q(ce.DELETE_AS_LISTED, ks), (ERASED_AT, 22, "mutes", 6, user)),
    }
    assert {(cql, params) for cql, params in last if "relation" in cql} == {
        (q(ce.DELETE_RELATIONS, ks), (ERASED_AT, user)),
        *((q(ce.DELETE_OWN_LISTED, ks), (ERASED_AT, user, kind)) for kind in RELATION_KINDS),
    }
