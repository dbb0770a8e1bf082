"""Worlds of follow requests for the state machine's tests: what one owner and a few requesters
do, in the order they did it, and the ways the graph group can receive it.

A world is a list of events with increasing ids (the order they happened). The group reads four
kinds of partition independently: each requester's (their requests, follows and unfollows, on
the follows topic), the owner's follows partition (answers) and the owner's users partition
(privacy switches). `deliveries` keeps each partition's order, may deliver a run of a partition
again (a redelivery from the committed offset) and interleaves the partitions at random.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hypothesis import strategies as st

from projections.graph.handlers import GRAPH_HANDLERS
from projections.graph.requests import PairBook
from projections.writes import SetFollow, SetFollowRequest, SetPrivacy, Write
from schemas import events as ev

OWNER = 7_000_000_001
REQUESTERS = (7_000_000_002, 7_000_000_003, 7_000_000_004)
FIRST_ID = 7_100_000_000_000_000_000  # 19 digits, like a Snowflake id
ACTIONS = ("request", "follow", "unfollow", "approve", "reject", "private", "public", "block")


def event(action: str, requester: int, event_id: int) -> ev.Event:
    """One action as the gateway appends it."""
    at = datetime.fromtimestamp((event_id - FIRST_ID + 1_700_000_000_000) / 1000, tz=UTC)
    if action == "request":
        return ev.FollowRequested(event_id=event_id, occurred_at=at, actor_id=requester,
                                  followee_id=OWNER)  # fmt: skip
    if action == "follow":
        return ev.UserFollowed(event_id=event_id, occurred_at=at, actor_id=requester,
                               followee_id=OWNER)  # fmt: skip
    if action == "unfollow":
        return ev.UserUnfollowed(event_id=event_id, occurred_at=at, actor_id=requester,
                                 followee_id=OWNER)  # fmt: skip
    if action in ("approve", "reject"):
        return ev.FollowRequestResolved(
            event_id=event_id,
            occurred_at=at,
            actor_id=OWNER,
            requester_id=requester,
            approved=action == "approve",
        )
    if action == "block":  # the owner blocks the requester: the edges both ways go
        return ev.UserBlocked(event_id=event_id, occurred_at=at, actor_id=OWNER,
                              blocked_id=requester)  # fmt: skip
    return ev.AccountPrivacyChanged(event_id=event_id, occurred_at=at, actor_id=OWNER,
                                    private=action == "private")  # fmt: skip


def world(actions: Sequence[tuple[str, int]]) -> list[ev.Event]:
    """(action, requester) pairs in the order they happened, as events."""
    return [event(a, r, FIRST_ID + i) for i, (a, r) in enumerate(actions)]


worlds = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.sampled_from(REQUESTERS)), min_size=1, max_size=14
).map(world)


def partition(e: ev.Event) -> str:
    if isinstance(e, ev.AccountPrivacyChanged):
        return "owner-users"
    if isinstance(e, ev.FollowRequestResolved | ev.UserBlocked):
        return "owner-follows"
    return f"requester-{e.actor_id}"


@st.composite
def deliveries(draw: st.DrawFn, events: Sequence[ev.Event]) -> list[ev.Event]:
    """One way the group can receive `events`: each partition in order, runs of it delivered
    again now and then, the partitions interleaved."""
    streams: dict[str, list[ev.Event]] = {}
    for e in events:
        streams.setdefault(partition(e), []).append(e)
    delivered: dict[str, list[ev.Event]] = {}
    for name, stream in streams.items():
        out: list[ev.Event] = []
        for i, e in enumerate(stream):
            out.append(e)
            if draw(st.integers(0, 5)) == 0:  # a redelivery of the last run
                out += stream[draw(st.integers(0, i)) : i + 1]
        delivered[name] = out
    merged: list[ev.Event] = []
    heads = dict.fromkeys(delivered, 0)
    while heads:
        name = draw(st.sampled_from(sorted(heads)))
        merged.append(delivered[name][heads[name]])
        heads[name] += 1
        if heads[name] == len(delivered[name]):
            del heads[name]
    return merged


def graph_writes(events: Sequence[ev.Event]) -> list[Write]:
    return [w for e in events for w in GRAPH_HANDLERS[type(e)](e)]


def apply_to_book(book: PairBook, writes: Sequence[Write]) -> None:
    """The graph group's writes of one owner's world, as the adapters apply them."""
    for w in writes:
        if isinstance(w, SetFollow) and w.followee_id == OWNER:  # a block's: both ways
            book.set_edge(w.follower_id, w.seq, w.active, w.at_ms)
        elif isinstance(w, SetFollowRequest) and w.owner_id == OWNER:
            book.step(w.kind, w.requester_id, w.seq, w.at_ms)
        elif isinstance(w, SetPrivacy):
            book.switch(w.seq, w.private)


def book_after(events: Sequence[ev.Event]) -> PairBook:
    book = PairBook.empty()
    apply_to_book(book, graph_writes(events))
    return book
