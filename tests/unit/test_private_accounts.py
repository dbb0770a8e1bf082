"""Private accounts without I/O: the visibility rule's whole truth table, the feeds group's
backfill of approved requests (explicit, and by going public) through its planner, and the
Cassandra adapter's derivation of the state machine from the steps it stores."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings

from projections.feeds.logic import BACKFILL, FeedFacts, facts_needed, feed_writes
from projections.graph.cassandra_requests import derive, edge_mark, pending_page, stored_steps
from projections.graph.requests import EdgeMark
from projections.graph.visibility import Audience, may_see
from projections.writes import FeedAdd, SetPrivacy
from schemas import events as ev
from streams.planners import feeds_planner
from tests.follow_requests_world import OWNER as OWNER_OF_WORLD
from tests.follow_requests_world import REQUESTERS, book_after, graph_writes, world, worlds
from tests.integration.helpers import IDS, now
from tests.unit.test_planners import Feeds, Graph, sources

OWNER, FAN, STRANGER = 10, 20, 30
A, B, C = REQUESTERS


@pytest.mark.parametrize(
    ("viewer", "private", "follows"),
    list(itertools.product([OWNER, FAN, STRANGER, None], [False, True], [False, True])),
)
def test_the_visibility_truth_table(viewer: int | None, private: bool, follows: bool) -> None:
    """Public: everyone. Private: the owner and approved followers; never anonymous."""
    follows = follows and viewer not in (None, OWNER)  # only another user can follow
    expected = not private or viewer == OWNER or follows
    assert may_see(Audience(viewer, OWNER, private, follows)) is expected


def resolved(owner: int, requester: int, approved: bool) -> ev.FollowRequestResolved:
    return ev.FollowRequestResolved(event_id=IDS.next_id(), occurred_at=now(), actor_id=owner,
                                    requester_id=requester, approved=approved)  # fmt: skip


def privacy(owner: int, private: bool) -> ev.AccountPrivacyChanged:
    return ev.AccountPrivacyChanged(event_id=IDS.next_id(), occurred_at=now(), actor_id=owner,
                                    private=private)  # fmt: skip


TIMELINE = [(300 + i, 3000 - i) for i in range(BACKFILL + 5)]  # newest first


async def test_an_approval_backfills_the_requesters_feed_and_a_rejection_nothing() -> None:
    feeds = Feeds({OWNER: TIMELINE}, set())
    s = sources(Graph([]), feeds)
    plan = feeds_planner(s.graph, s.feeds)
    added = await plan([resolved(OWNER, FAN, True)])
    assert added == [FeedAdd((FAN,), post, ms) for post, ms in TIMELINE[:BACKFILL]]
    assert await plan([resolved(OWNER, STRANGER, False)]) == []
    assert feeds.asked == [OWNER]  # a rejection needs no timeline


async def test_going_public_backfills_those_it_approved_and_going_private_nothing() -> None:
    public = privacy(OWNER, False)
    graph = Graph([], requesters={(OWNER, public.event_id): [FAN, STRANGER]})
    s = sources(graph, Feeds({OWNER: TIMELINE[:2]}, set()))
    plan = feeds_planner(s.graph, s.feeds)
    assert await plan([public]) == [FeedAdd((FAN, STRANGER), post, ms) for post, ms in
                                    TIMELINE[:2]]  # fmt: skip
    assert await plan([privacy(OWNER, True)]) == []
    assert facts_needed([privacy(OWNER, True)]).requesters_before == frozenset()


def test_a_celebritys_approval_is_pulled_not_pushed() -> None:
    facts = FeedFacts(celebrities=frozenset({OWNER}), timelines={OWNER: TIMELINE})
    assert feed_writes([resolved(OWNER, FAN, True)], facts) == []


@settings(max_examples=200, deadline=None)
@given(worlds)
def test_the_cassandra_steps_derive_the_state_machines_state(events: list[ev.Event]) -> None:
    """Cassandra keeps the steps (an edge step told by its SetFollow whether the edge came or
    went) and derives the state in event order: the state the graph group reaches."""
    writes = graph_writes(events)
    steps = stored_steps(writes)
    others = {owner for owner, _ in steps} - {OWNER_OF_WORLD}  # a block's reverse edge steps
    assert not others or any(isinstance(e, ev.UserBlocked) for e in events)
    steps = [(owner, s) for owner, s in steps if owner == OWNER_OF_WORLD]
    switches = [(w.seq, w.private) for w in writes if isinstance(w, SetPrivacy)]
    assert derive([s for _, s in steps], switches) == book_after(events)


def test_the_pending_page_is_newest_first_past_its_cursor() -> None:
    book = book_after(world([("private", A), ("request", A), ("request", B), ("request", C)]))
    first = pending_page(book, 2, None)
    assert [e.user_id for e in first.items] == [C, B]
    assert first.next is not None
    assert [e.user_id for e in pending_page(book, 2, first.next).items] == [A]


def test_an_edge_row_is_the_state_machines_edge() -> None:
    assert edge_mark({"active": True, "active_ts": 9, "followed_ms": 5}) == EdgeMark(9, True, 5)
    assert edge_mark({"active": False, "active_ts": 9, "followed_ms": 5}) == EdgeMark(9, False, 0)
    assert edge_mark(None) is None
