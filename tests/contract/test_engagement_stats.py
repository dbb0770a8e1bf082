"""Contract of EngagementStore.stats (a page of posts' like and comment counts, and whether the
viewer liked each), run against every adapter: Redis always, Redis's counters beside Cassandra's
comments (the split EngagementViews) when PHOTOFEED_CASSANDRA_HOSTS names a live cluster (skipped
otherwise). Writes come from the real pure handlers."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.engagement.ports import PostStats
from projections.groups import writes_for
from schemas import events as ev

if TYPE_CHECKING:
    from tests.contract.stores import Stores, WritableEngagement

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
pytestmark = pytest.mark.stack
_ids = itertools.count(2 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHOR, BOB, CAROL, DAN = 11, 12, 13, 14
P1, P2, P3 = 5_001, 5_002, 5_003
NONE = PostStats(likes=0, comments=0, liked_by_viewer=False)
_comments = itertools.count(9 * 10**15)


@pytest.fixture
async def eng(stores: Stores) -> WritableEngagement:
    return await stores.engagement_views()


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def liked(liker: int, post: int, second: float = 0) -> ev.PostLiked:
    return ev.PostLiked(event_id=next(_ids), occurred_at=at(second), actor_id=liker,
                        post_id=post, author_id=AUTHOR)  # fmt: skip


def unliked(liker: int, post: int, second: float = 0) -> ev.PostUnliked:
    return ev.PostUnliked(event_id=next(_ids), occurred_at=at(second), actor_id=liker,
                          post_id=post, author_id=AUTHOR)  # fmt: skip


def commented(commenter: int, post: int, comment: int, second: float = 0) -> ev.CommentAdded:
    return ev.CommentAdded(
        event_id=next(_ids), occurred_at=at(second), actor_id=commenter, comment_id=comment,
        post_id=post, author_id=AUTHOR, text="nice",
    )  # fmt: skip


def uncommented(commenter: int, post: int, comment: int) -> ev.CommentDeleted:
    return ev.CommentDeleted(event_id=next(_ids), occurred_at=at(99), actor_id=commenter,
                             comment_id=comment, post_id=post, author_id=AUTHOR,
                             commenter_id=commenter)  # fmt: skip


async def apply(store: WritableEngagement, *events: ev.Event) -> None:
    await store.apply(writes_for("engagement", events))


async def test_unknown_posts_have_no_engagement(eng: WritableEngagement) -> None:
    assert await eng.stats([P1, P2], BOB) == {P1: NONE, P2: NONE}
    assert await eng.stats([P1], None) == {P1: NONE}
    assert await eng.stats([], BOB) == {}
    assert await eng.stats([], None) == {}


async def test_counts_and_the_viewers_likes(eng: WritableEngagement) -> None:
    c1, c2, c3 = next(_comments), next(_comments), next(_comments)
    await apply(
        eng, liked(BOB, P1), liked(CAROL, P1), liked(BOB, P2),
        commented(CAROL, P1, c1), commented(BOB, P1, c2), commented(DAN, P2, c3),
    )  # fmt: skip
    posts = [P1, P2, P3]
    assert await eng.stats(posts, BOB) == {
        P1: PostStats(2, 2, True), P2: PostStats(1, 1, True), P3: NONE,
    }  # fmt: skip
    assert await eng.stats(posts, CAROL) == {
        P1: PostStats(2, 2, True), P2: PostStats(1, 1, False), P3: NONE,
    }  # fmt: skip
    anonymous = await eng.stats(posts, None)
    assert anonymous == {P1: PostStats(2, 2, False), P2: PostStats(1, 1, False), P3: NONE}
    assert await eng.stats(posts, DAN) == anonymous  # commenting is not liking
    assert await eng.stats([P2, P1], BOB) == {P2: PostStats(1, 1, True), P1: PostStats(2, 2, True)}


async def test_an_author_liking_their_own_post_counts(eng: WritableEngagement) -> None:
    await apply(eng, liked(AUTHOR, P1), liked(BOB, P1))
    assert await eng.stats([P1], AUTHOR) == {P1: PostStats(2, 0, True)}


async def test_unlikes_and_deleted_comments_count_down(eng: WritableEngagement) -> None:
    c1, c2 = next(_comments), next(_comments)
    await apply(eng, liked(BOB, P1), liked(CAROL, P1), commented(BOB, P1, c1),
                commented(CAROL, P1, c2))  # fmt: skip
    await apply(eng, unliked(BOB, P1), uncommented(BOB, P1, c1))
    assert await eng.stats([P1], BOB) == {P1: PostStats(1, 1, False)}
    await apply(eng, unliked(BOB, P1), unliked(DAN, P1))  # not liked: nothing to take back
    assert await eng.stats([P1], DAN) == {P1: PostStats(1, 1, False)}
    await apply(eng, liked(BOB, P1))
    assert await eng.stats([P1], BOB) == {P1: PostStats(2, 1, True)}


async def test_redelivery_changes_nothing(eng: WritableEngagement) -> None:
    c1 = next(_comments)
    batch = [liked(BOB, P1), liked(CAROL, P1), unliked(CAROL, P1), commented(BOB, P1, c1)]
    for _ in range(3):
        await apply(eng, *batch)
    for event in batch:  # one at a time, as a redrive delivers them
        await apply(eng, event)
    assert await eng.stats([P1], BOB) == {P1: PostStats(1, 1, True)}
    assert await eng.stats([P1], CAROL) == {P1: PostStats(1, 1, False)}


async def test_an_older_event_applied_later_is_ignored(eng: WritableEngagement) -> None:
    c1 = next(_comments)
    like, unlike = liked(BOB, P1, 1), unliked(BOB, P1, 2)  # in log order
    add, delete = commented(CAROL, P1, c1, 1), uncommented(CAROL, P1, c1)
    await apply(eng, unlike, delete)
    await apply(eng, like, add)  # older: cannot revive the like or the comment
    assert await eng.stats([P1], BOB) == {P1: NONE}
    again, relike = liked(CAROL, P2, 1), liked(CAROL, P2, 2)
    await apply(eng, relike, unliked(CAROL, P2, 3), again)  # in one batch, out of order
    assert await eng.stats([P2], CAROL) == {P2: NONE}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_order_builds_the_counts_the_log_implies(stores: Stores, seed: int) -> None:
    rng = random.Random(seed)
    users, posts = [AUTHOR, BOB, CAROL, DAN], [P1, P2, P3]
    events: list[ev.Event] = []
    comments: dict[int, tuple[int, int]] = {}  # comment -> (post, commenter)
    for second in range(40):
        user, post = rng.choice(users), rng.choice(posts)
        roll = rng.random()
        if roll < 0.4:
            events.append(liked(user, post, second))
        elif roll < 0.6:
            events.append(unliked(user, post, second))
        elif roll < 0.85 or not comments:
            comment = next(_comments)
            comments[comment] = (post, user)
            events.append(commented(user, post, comment, second))
        else:
            comment = rng.choice(sorted(comments))
            events.append(uncommented(comments[comment][1], comments[comment][0], comment))
    likes: dict[tuple[int, int], bool] = {}  # the last like or unlike of each (user, post)
    live: dict[int, bool] = {}
    for e in events:
        if isinstance(e, ev.PostLiked | ev.PostUnliked):
            likes[(e.actor_id, e.post_id)] = isinstance(e, ev.PostLiked)
        elif isinstance(e, ev.CommentAdded | ev.CommentDeleted):
            live[e.comment_id] = isinstance(e, ev.CommentAdded) and live.get(e.comment_id, True)

    def truth(viewer: int) -> dict[int, PostStats]:
        return {
            p: PostStats(
                sum(1 for (_, q), on in likes.items() if q == p and on),
                sum(1 for c, on in live.items() if on and comments[c][0] == p),
                likes.get((viewer, p), False),
            )
            for p in posts
        }

    for order in (events, rng.sample(events, len(events))):
        store = await stores.engagement_views()
        cut = rng.randint(0, len(order))
        await apply(store, *order[:cut])
        await apply(store, *order[cut // 2 :])
        for viewer in users:
            assert await store.stats(posts, viewer) == truth(viewer), (seed, viewer)
