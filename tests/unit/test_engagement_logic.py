"""The engagement group's pure parts: handlers, notification groups, counter audit arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from projections.audit.logic import (
    LIKE_COUNT,
    Drift,
    EdgeSide,
    confirmed,
    count_drift,
    edge_truth,
    expected_likes,
    graph_counts,
    stale_sides,
)
from projections.engagement.logic import (
    DAY_MS,
    MAX_BUNDLE_ACTORS,
    MAX_NOTIFICATIONS,
    SHOWN_ACTORS,
    comment_bundle,
    follow_bundle,
    like_bundle,
    parse_bundle,
)
from projections.groups import writes_for
from projections.writes import (
    PostGone,
    ReadNotifications,
    SetComment,
    SetFollowNotice,
    SetLike,
)
from schemas import events as ev

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
AT_MS = 1_772_366_400_000


def test_constants_keep_their_invariants() -> None:
    assert MAX_BUNDLE_ACTORS >= SHOWN_ACTORS
    assert MAX_NOTIFICATIONS >= 5 * 100


def test_likes_notify_the_author_unless_they_like_their_own_post() -> None:
    by_fan = ev.PostLiked(event_id=1, occurred_at=AT, actor_id=7, post_id=9, author_id=3)
    by_author = ev.PostUnliked(event_id=2, occurred_at=AT, actor_id=3, post_id=9, author_id=3)
    assert writes_for("engagement", [by_fan, by_author]) == [
        SetLike(9, 3, 7, AT_MS, True, 1, notify=True),
        SetLike(9, 3, 3, AT_MS, False, 2, notify=False),
    ]


def test_comments_carry_text_and_deletions_name_the_commenter() -> None:
    added = ev.CommentAdded(event_id=1, occurred_at=AT, actor_id=7, comment_id=5, post_id=9,
                            author_id=3, text="nice")  # fmt: skip
    # the post's author deletes a fan's comment: the fan's notification is what is retracted
    deleted = ev.CommentDeleted(event_id=2, occurred_at=AT, actor_id=3, comment_id=5, post_id=9,
                                author_id=3, commenter_id=7)  # fmt: skip
    own = ev.CommentAdded(event_id=3, occurred_at=AT, actor_id=3, comment_id=6, post_id=9,
                          author_id=3, text="thanks")  # fmt: skip
    assert writes_for("engagement", [added, deleted, own]) == [
        SetComment(5, 9, 3, 7, AT_MS, "nice", True, 1, notify=True),
        SetComment(5, 9, 3, 7, AT_MS, "", False, 2, notify=True),
        SetComment(6, 9, 3, 3, AT_MS, "thanks", True, 3, notify=False),
    ]


def test_follows_reads_and_deletions() -> None:
    events: list[ev.Event] = [
        ev.UserFollowed(event_id=1, occurred_at=AT, actor_id=7, followee_id=3),
        ev.UserUnfollowed(event_id=2, occurred_at=AT, actor_id=7, followee_id=3),
        ev.UserFollowed(event_id=3, occurred_at=AT, actor_id=3, followee_id=3),  # ignored
        ev.NotificationsRead(event_id=4, occurred_at=AT, actor_id=3, up_to_id=99),
        ev.PostDeleted(event_id=5, occurred_at=AT, actor_id=3, post_id=9),
        ev.UserRegistered(event_id=6, occurred_at=AT, actor_id=8, username="x"),  # not ours
    ]
    assert writes_for("engagement", events) == [
        SetFollowNotice(3, 7, AT_MS, True, 1),
        SetFollowNotice(3, 7, AT_MS, False, 2),
        ReadNotifications(3, 99),
        PostGone(9, 3, 5),
    ]


@given(st.integers(0, 2**62), st.integers(0, 2**62))
def test_group_keys_round_trip(post: int, comment: int) -> None:
    assert parse_bundle(like_bundle(post)) == ("like", post, None)
    assert parse_bundle(comment_bundle(post, comment)) == ("comment", post, comment)


@given(st.integers(0, 2**45))
def test_follows_group_by_utc_day(ms: int) -> None:
    day_start = ms - ms % DAY_MS
    assert follow_bundle(ms) == follow_bundle(day_start) == follow_bundle(day_start + DAY_MS - 1)
    assert follow_bundle(ms) != follow_bundle(day_start + DAY_MS)
    assert parse_bundle(follow_bundle(ms)) == ("follow", None, None)


def test_count_drift_reports_only_differences() -> None:
    drifts = count_drift(LIKE_COUNT, {1: 3, 2: 5, 4: 1}, {1: 3, 2: 4, 3: 2})
    assert drifts == [Drift(LIKE_COUNT, 2, 5, 4), Drift(LIKE_COUNT, 3, 0, 2),
                      Drift(LIKE_COUNT, 4, 1, 0)]  # fmt: skip
    assert [d.delta for d in drifts] == [-1, 2, -1]


def test_a_drift_must_repeat_with_the_same_delta_to_count() -> None:
    first = [Drift(LIKE_COUNT, 1, 5, 4), Drift(LIKE_COUNT, 2, 0, 1), Drift(LIKE_COUNT, 3, 2, 3)]
    # post 2: a like landed between the reads of pass one; post 3 moved on but is still off by 1
    second = [Drift(LIKE_COUNT, 1, 5, 4), Drift(LIKE_COUNT, 3, 3, 4)]
    assert confirmed(first, second) == [Drift(LIKE_COUNT, 1, 5, 4), Drift(LIKE_COUNT, 3, 2, 3)]


def test_expected_likes_count_liked_entries_only() -> None:
    assert expected_likes([(1, True), (1, True), (1, False), (2, False), (3, True)]) == {1: 2, 3: 1}


def v(n: int) -> str:
    return str(n).zfill(19)


def test_the_newer_side_of_an_edge_is_the_truth_and_the_other_is_repaired() -> None:
    following = {(1, 2): EdgeSide(True, v(10), 100), (1, 3): EdgeSide(False, v(20))}
    followers = {(1, 2): EdgeSide(False, v(5)), (1, 3): EdgeSide(True, v(15), 150),
                 (4, 2): EdgeSide(True, v(7), 70)}  # fmt: skip
    truth = edge_truth(following, followers)
    assert truth == {(1, 2): EdgeSide(True, v(10), 100), (1, 3): EdgeSide(False, v(20)),
                     (4, 2): EdgeSide(True, v(7), 70)}  # fmt: skip
    assert graph_counts(truth) == ({2: 2}, {1: 1, 4: 1})
    assert stale_sides(following, followers) == [
        ("followers", (1, 2), EdgeSide(True, v(10), 100)),
        ("followers", (1, 3), EdgeSide(False, v(20))),
        ("following", (4, 2), EdgeSide(True, v(7), 70)),
    ]
