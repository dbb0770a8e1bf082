"""The follow request state machine (projections/graph/requests.py): what each flow leaves, and
that any order the graph group can receive a world in (partitions interleaved, runs of them
delivered again) leaves the same registers, edges and pending list."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.graph.requests import (
    Answer,
    EdgeMark,
    PairBook,
    Request,
    decision,
    is_private,
    settle,
)
from schemas import events as ev
from tests.follow_requests_world import (
    FIRST_ID,
    REQUESTERS,
    book_after,
    deliveries,
    world,
    worlds,
)

A, B, C = REQUESTERS


def follower(book: PairBook, requester: int) -> bool:
    edge = book.edges.get(requester)
    return edge is not None and edge.present


def test_a_request_is_pending_until_the_owner_answers() -> None:
    book = book_after(world([("private", A), ("request", A)]))
    assert book.pending == {A: book.requests[A].at_ms}
    assert not follower(book, A)
    approved = book_after(world([("private", A), ("request", A), ("approve", A)]))
    assert approved.pending == {}
    assert follower(approved, A)
    # the edge carries the request's seq and time: the requester's later unfollow wins over it
    assert approved.edges[A] == EdgeMark(FIRST_ID + 1, True, approved.requests[A].at_ms)
    rejected = book_after(world([("private", A), ("request", A), ("reject", A)]))
    assert rejected.pending == {}
    assert not follower(rejected, A)


def test_an_unfollow_withdraws_a_pending_request_and_ends_an_approved_follow() -> None:
    withdrawn = book_after(world([("private", A), ("request", A), ("unfollow", A)]))
    assert withdrawn.pending == {}
    assert withdrawn.requests == {}
    left = book_after(world([("private", A), ("request", A), ("approve", A), ("unfollow", A)]))
    assert not follower(left, A)
    assert left.requests == {}
    again = book_after(world([("private", A), ("request", A), ("reject", A), ("request", A)]))
    assert A in again.pending  # a rejected requester may ask again


def test_going_public_approves_what_is_pending_then_and_nothing_else() -> None:
    book = book_after(world([
        ("private", A), ("request", A), ("request", B), ("reject", B), ("request", C),
        ("unfollow", C), ("public", A),
    ]))  # fmt: skip
    assert book.pending == {}
    assert follower(book, A)
    assert not follower(book, B)
    assert not follower(book, C)
    # a request answered before the switch keeps its answer; a later one is pending again
    later = book_after(world([("private", A), ("public", A), ("private", A), ("request", A)]))
    assert A in later.pending


def test_an_existing_follower_stays_when_the_account_goes_private() -> None:
    book = book_after(world([("follow", A), ("private", A)]))
    assert follower(book, A)
    assert book.pending == {}


def test_the_first_of_the_answer_and_a_switch_to_public_decides() -> None:
    request = Request(10, 1, None)
    assert decision(request, [], []) is None
    assert decision(request, [Answer(9, True)], []) is None  # an answer to an older request
    assert decision(request, [Answer(12, False)], [(11, False)]) is True  # public first
    assert decision(request, [Answer(12, False)], [(13, False)]) is False  # rejected first
    assert decision(request, [Answer(11, True), Answer(12, False)], []) is True  # the first
    assert decision(request, [], [(5, False), (11, True)]) is None  # public before: no
    assert is_private([(5, False), (11, True)])
    assert not is_private([])


def test_an_approval_overturned_by_an_earlier_answer_restores_the_edge_before_it() -> None:
    before = EdgeMark(3, False, 0)
    request = Request(10, 99, before)
    approved = settle(request, [], [(12, False)], before)
    assert approved.edge == EdgeMark(10, True, 99)
    # the owner's rejection at 11 arrives late: it came first, so the request was rejected
    overturned = settle(request, [Answer(11, False)], [(12, False)], approved.edge)
    assert overturned.edge == before
    assert not overturned.pending


def test_the_requesters_own_later_step_closes_the_request() -> None:
    s = settle(Request(10, 99, None), [Answer(12, True), Answer(20, True)], [],
               EdgeMark(15, False, 0))  # fmt: skip
    assert s.request is None
    assert not s.pending
    assert s.edge == EdgeMark(15, False, 0)
    assert s.answers == (Answer(20, True),)  # one older than the edge answered nothing left


@settings(max_examples=300, deadline=None)
@given(st.data(), worlds)
def test_any_order_of_delivery_leaves_the_same_state(data: st.DataObject, events: list[ev.Event]
                                                     ) -> None:  # fmt: skip
    in_order = book_after(events)
    delivered = book_after(data.draw(deliveries(events)))
    assert delivered == in_order


@settings(max_examples=200, deadline=None)
@given(worlds)
def test_in_order_the_pending_list_is_what_the_owner_has_not_answered(
    events: list[ev.Event],
) -> None:
    """Read in the order things happened, the state machine says what a person would: pending
    are the requesters whose last step was a request that no answer or switch to public
    followed; followers are those whose last step was a follow or an approved request. (A new
    request supersedes the approval of the one before it: the gateway never appends one while
    the requester follows, only a race can.)"""
    book = book_after(events)
    pending: set[int] = set()
    followed: set[int] = set()  # by a follow of their own (until a block)
    approved: set[int] = set()  # by an approved request
    for e in events:
        if isinstance(e, ev.AccountPrivacyChanged):
            if not e.private:
                approved |= pending
                pending = set()
        elif isinstance(e, ev.FollowRequestResolved):
            if e.requester_id in pending:
                pending.discard(e.requester_id)
                if e.approved:
                    approved.add(e.requester_id)
        elif isinstance(e, ev.FollowRequested):
            pending.add(e.actor_id)
            approved.discard(e.actor_id)
        elif isinstance(e, ev.UserBlocked):  # the owner's block: the edge and the ask both go
            for gone in (pending, approved, followed):
                gone.discard(e.blocked_id)
        else:
            pending.discard(e.actor_id)
            approved.discard(e.actor_id)
            (followed.add if isinstance(e, ev.UserFollowed) else followed.discard)(e.actor_id)
    assert set(book.pending) == pending
    assert {r for r in REQUESTERS if follower(book, r)} == followed | approved
