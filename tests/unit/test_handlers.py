"""Projection handlers: the writes each event implies, and the version keys adapters compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from projections.graph.handlers import (
    on_avatar_changed,
    on_followed,
    on_unfollowed,
    on_user_registered,
)
from projections.graph.requests import EDGE
from projections.groups import HANDLERS, Group, writes_for
from projections.writes import (
    SEQ_WIDTH,
    MarkCelebrity,
    PutUser,
    SetAvatar,
    SetBlock,
    SetFollow,
    SetFollowRequest,
    SetMute,
    SetPrivacy,
    SetProfile,
    seq_key,
)
from schemas import events as ev
from schemas.events import EVENT_TYPES
from schemas.ids import EPOCH_MS
from schemas.media import avatar_upload_of
from tests.unit.strategies import any_event, events_of, ms_datetimes

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AT = datetime(2025, 3, 4, 5, 6, 7, 89_000, tzinfo=UTC)
GRAPH = HANDLERS[Group.GRAPH]
UNHANDLED = [t for t in EVENT_TYPES if t not in GRAPH]
MAX_ID = 2**63 - 1


def unix_ms(at: datetime) -> int:
    """Exact Unix milliseconds by integer arithmetic (the spec of every `*_ms` field)."""
    return (at - UNIX_EPOCH) // timedelta(milliseconds=1)


def registered(at: datetime = AT) -> ev.UserRegistered:
    return ev.UserRegistered(event_id=101, occurred_at=at, actor_id=5, username="alice")


def followed(actor: int = 5, followee: int = 6, event_id: int = 102) -> ev.UserFollowed:
    return ev.UserFollowed(event_id=event_id, occurred_at=AT, actor_id=actor, followee_id=followee)


def unfollowed(actor: int = 5, followee: int = 6, event_id: int = 103) -> ev.UserUnfollowed:
    return ev.UserUnfollowed(
        event_id=event_id, occurred_at=AT, actor_id=actor, followee_id=followee
    )


# each handler -----------------------------------------------------------------------------------


def test_registration_puts_the_user() -> None:
    assert on_user_registered(registered()) == [PutUser(5, "alice", unix_ms(AT), 101)]


@pytest.mark.parametrize("url", ["https://cdn.example/a.jpg", None])
def test_avatar_change_sets_or_clears_the_avatar(url: str | None) -> None:
    event = ev.UserAvatarChanged(event_id=104, occurred_at=AT, actor_id=5, avatar_url=url)
    assert on_avatar_changed(event) == [SetAvatar(5, url, 104)]


def test_follow_activates_the_edge_and_closes_an_older_request() -> None:
    assert on_followed(followed()) == [
        SetFollow(5, 6, unix_ms(AT), True, 102),
        SetFollowRequest(6, 5, EDGE, unix_ms(AT), 102),
    ]


def test_unfollow_deactivates_the_edge_and_withdraws_a_request() -> None:
    assert on_unfollowed(unfollowed()) == [
        SetFollow(5, 6, unix_ms(AT), False, 103),
        SetFollowRequest(6, 5, EDGE, 0, 103),  # an absent edge: no score
    ]


def test_self_follow_produces_no_write() -> None:
    assert on_followed(followed(actor=9, followee=9)) == []
    assert writes_for("graph", [followed(actor=9, followee=9)]) == []


def test_the_graph_group_handles_exactly_the_user_follow_and_celebrity_events() -> None:
    assert set(GRAPH) == {
        ev.UserRegistered,
        ev.UserAvatarChanged,
        ev.ProfileUpdated,
        ev.UserFollowed,
        ev.UserUnfollowed,
        ev.FollowRequested,  # follow requests (projections/graph/requests.py)
        ev.FollowRequestResolved,
        ev.AccountPrivacyChanged,
        ev.UserBlocked,  # blocks and mutes (projections/graph/relations.py)
        ev.UserUnblocked,
        ev.UserMuted,
        ev.UserUnmuted,
        ev.CelebrityFlagged,  # the celebrities each user follows (the feed's read path)
    }
    assert all(t in EVENT_TYPES for group in HANDLERS.values() for t in group)


@given(ms_datetimes(datetime(2025, 1, 1), datetime(2094, 12, 31)))  # Snowflake-era times
@example(datetime(2039, 4, 30, 1, 48, 44, 9_000, tzinfo=UTC))
def test_time_in_writes_is_the_exact_millisecond(at: datetime) -> None:
    (put,) = on_user_registered(registered(at))
    assert isinstance(put, PutUser)
    assert put.created_ms == unix_ms(at)


# writes_for ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", UNHANDLED, ids=lambda t: t.__name__)
@given(data=st.data())
def test_writes_for_ignores_events_the_group_does_not_handle(
    cls: type[ev.Event], data: st.DataObject
) -> None:
    event = data.draw(events_of(cls))
    assert writes_for("graph", [event]) == []


def test_writes_for_keeps_event_order() -> None:
    batch: list[ev.Event] = [
        registered(),
        ev.PostLiked(event_id=200, occurred_at=AT, actor_id=5, post_id=1, author_id=6),
        followed(),
        unfollowed(),
    ]
    assert writes_for("graph", batch) == [
        PutUser(5, "alice", unix_ms(AT), 101),
        SetFollow(5, 6, unix_ms(AT), True, 102),
        SetFollowRequest(6, 5, EDGE, unix_ms(AT), 102),
        SetFollow(5, 6, unix_ms(AT), False, 103),
        SetFollowRequest(6, 5, EDGE, 0, 103),
    ]


def test_writes_for_an_unknown_group_raises() -> None:
    with pytest.raises(KeyError):
        writes_for("no-such-group", [registered()])


@given(st.lists(any_event(), max_size=20))
def test_writes_for_is_the_concatenation_of_handler_results(events: list[ev.Event]) -> None:
    expected = [w for e in events if type(e) in GRAPH for w in GRAPH[type(e)](e)]
    assert writes_for("graph", events) == expected
    assert writes_for("graph", events) == expected  # pure: same events, same writes


@given(st.lists(any_event(), max_size=20))
def test_every_write_is_versioned_by_the_event_that_caused_it(events: list[ev.Event]) -> None:
    for event in events:
        for write in writes_for("graph", [event]):
            if isinstance(write, MarkCelebrity):  # one-way: needs no version to be idempotent
                assert isinstance(event, ev.CelebrityFlagged)
                assert write.user_id == event.actor_id
                continue
            if isinstance(write, SetAvatar) and write.avatar_keys:  # as of its upload
                assert write.seq == (avatar_upload_of(write.avatar_keys[0]) or event.event_id)
                continue
            assert isinstance(write, PutUser | SetAvatar | SetProfile | SetFollow | SetBlock
                              | SetMute | SetFollowRequest | SetPrivacy)  # fmt: skip
            assert write.seq == event.event_id


# version keys -------------------------------------------------------------------------------------


def test_version_width_fits_the_largest_id() -> None:
    assert len(str(MAX_ID)) == SEQ_WIDTH
    assert len(seq_key(MAX_ID)) == SEQ_WIDTH
    assert len(seq_key(1)) == SEQ_WIDTH


@given(st.integers(0, MAX_ID), st.integers(0, MAX_ID))
def test_version_keys_order_like_the_integers(a: int, b: int) -> None:
    ka, kb = seq_key(a), seq_key(b)
    assert len(ka) == len(kb) == SEQ_WIDTH
    assert (ka < kb) == (a < b)
    assert (ka == kb) == (a == b)
    assert int(ka) == a


@given(st.integers(EPOCH_MS, EPOCH_MS + 2**41 - 1))
def test_version_keys_distinguish_ids_a_double_would_merge(ms: int) -> None:
    base = (ms - EPOCH_MS) << 22
    assert seq_key(base) < seq_key(base + 1)


def test_feed_cap_holds_several_of_the_largest_pages() -> None:
    from projections.feeds.logic import BACKFILL, MAX_FEED

    assert MAX_FEED >= 8 * 100
    assert 0 < BACKFILL <= MAX_FEED
