"""Contract of the FeedStore port (home feeds, the celebrity set, fill_feed) and the feeds group's
writer of FeedAdd/FeedRemove/MarkCelebrity, run against every adapter: memory and Redis always,
Redis beside Cassandra's posts (the split FeedViews) when PHOTOFEED_CASSANDRA_HOSTS names a live
cluster (skipped otherwise). Posts and timelines, FeedStore's PostReader part, have their own
suite (test_post_store.py).

Feed rows are (post id, ms), newest first, equal times ordered as the read path's merge orders
them (`projections.feeds.query.order_key`): the feed is merged with timelines by that key."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.feeds.logic import FeedFacts, feed_writes
from projections.feeds.ports import FeedState
from projections.feeds.query import order_key
from projections.ports import Position
from projections.writes import FeedAdd, FeedRemove, MarkCelebrity, Write
from schemas import events as ev
from tests.contract.adapters import WITH_MEMORY, Backend, open_backend

if TYPE_CHECKING:
    from tests.contract.stores import Stores, WritableFeeds

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
_ids = itertools.count(3 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANA, BOB, CAROL, DAN = 101, 102, 103, 104
P = 6 * 10**15  # post ids, all of 16 digits: equal times order by id as numbers and as bytes
CAP = 4  # max_feed of the stores that test trimming


def ms(second: float) -> int:
    return int((BASE + timedelta(seconds=second)).timestamp() * 1000)


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> Backend:
    return open_backend(request)


@pytest.fixture
async def feeds(stores: Stores) -> WritableFeeds:
    return await stores.feeds()


async def apply(store: WritableFeeds, *writes: Write) -> None:
    await store.apply(list(writes))


def push(post: int, second: float, *owners: int) -> FeedAdd:
    return FeedAdd(owners, post, ms(second))


def newest_first(rows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return sorted(rows, key=order_key, reverse=True)


async def whole_feed(store: WritableFeeds, user: int, size: int) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    after: Position | None = None
    while True:
        page = await store.feed_page(user, size, after)
        assert len(page) <= size
        seen += page
        if len(page) < size:
            return seen
        after = Position(page[-1][1], page[-1][0])


async def test_a_fresh_store_is_empty(feeds: WritableFeeds) -> None:
    assert await feeds.celebrities() == set()
    assert await feeds.feed_state(ANA) == FeedState(exists=False, trimmed=False)
    assert await feeds.feed_page(ANA, 10, None) == []
    assert await feeds.feed_page(ANA, 10, Position(ms(5), P)) == []
    assert feeds.max_feed > 0


async def test_stores_are_isolated(stores: Stores) -> None:
    one, other = await stores.feeds(), await stores.feeds()
    await apply(one, push(P + 1, 1, BOB), MarkCelebrity(ANA))
    assert await other.feed_page(BOB, 10, None) == []
    assert await other.feed_state(BOB) == FeedState(False, False)
    assert await other.celebrities() == set()


async def test_pushed_posts_page_newest_first_without_gaps(feeds: WritableFeeds) -> None:
    seconds = [1, 2, 2, 3, 3, 3, 4, 5]  # equal times: the larger id first
    await apply(feeds, *(push(P + i, s, BOB, CAROL) for i, s in enumerate(seconds)))
    expected = newest_first([(P + i, ms(s)) for i, s in enumerate(seconds)])
    assert await feeds.feed_state(BOB) == FeedState(exists=True, trimmed=False)
    first = await feeds.feed_page(BOB, 3, None)
    assert first == expected[:3]
    for size in (1, 3, 8, 50):
        assert await whole_feed(feeds, BOB, size) == expected
    assert await feeds.feed_page(CAROL, 50, None) == expected
    assert await feeds.feed_page(ANA, 50, None) == []  # pushed to others only
    await apply(feeds, push(P + 90, 60, BOB))  # a new post between pages lands above the cursor
    rest = await feeds.feed_page(BOB, 50, Position(first[-1][1], first[-1][0]))
    assert rest == expected[3:]
    assert await feeds.feed_page(BOB, 0, None) == []


async def test_equal_times_order_as_the_merge_orders_them(feeds: WritableFeeds) -> None:
    """Ids of unequal length at one time order by their decimal bytes, descending (query.py's
    `order_key`), so a cursor taken from a merged page continues the feed exactly."""
    ids = [7, 99, 100, 1000, 12, 5 * 10**15]
    await apply(feeds, *(push(post, 1, BOB) for post in ids))
    expected = newest_first([(post, ms(1)) for post in ids])
    assert [post for post, _ in expected] == [99, 7, 5 * 10**15, 12, 1000, 100]
    assert await whole_feed(feeds, BOB, 1) == expected
    assert await whole_feed(feeds, BOB, 4) == expected


async def test_pushes_are_idempotent(feeds: WritableFeeds) -> None:
    batch = [push(P + 1, 1, BOB, CAROL), push(P + 2, 2, BOB)]
    for _ in range(3):
        await apply(feeds, *batch)
    await apply(feeds, push(P + 1, 1, BOB))
    assert await feeds.feed_page(BOB, 10, None) == [(P + 2, ms(2)), (P + 1, ms(1))]
    assert await feeds.feed_page(CAROL, 10, None) == [(P + 1, ms(1))]
    assert await feeds.feed_state(BOB) == FeedState(True, False)


async def test_a_feed_keeps_its_newest_entries_and_marks_the_loss(stores: Stores) -> None:
    feeds = await stores.feeds(max_feed=CAP)
    assert feeds.max_feed == CAP
    await apply(feeds, *(push(P + i, i, BOB, CAROL) for i in range(1, CAP + 1)))
    assert await feeds.feed_state(BOB) == FeedState(True, False)  # full, nothing lost yet
    await apply(feeds, push(P + 10, 10, BOB))
    kept = newest_first([(P + 10, ms(10))] + [(P + i, ms(i)) for i in range(2, CAP + 1)])
    assert await feeds.feed_page(BOB, 50, None) == kept
    assert await feeds.feed_state(BOB) == FeedState(True, True)
    assert await feeds.feed_state(CAROL) == FeedState(True, False)  # other feeds untouched
    await apply(feeds, push(P + 20, 0, CAROL))  # older than a full feed: dropped at once
    assert (P + 20, ms(0)) not in await feeds.feed_page(CAROL, 50, None)
    assert await feeds.feed_state(CAROL) == FeedState(True, True)
    assert len(await feeds.feed_page(CAROL, 50, None)) == CAP


async def test_removals_purge_only_their_entries(feeds: WritableFeeds) -> None:
    await apply(feeds, push(P + 1, 1, BOB, CAROL), push(P + 2, 2, BOB, CAROL))
    await apply(feeds, FeedRemove(((BOB, P + 1), (CAROL, P + 9), (DAN, P + 1))))  # some unknown
    assert await feeds.feed_page(BOB, 10, None) == [(P + 2, ms(2))]
    assert await feeds.feed_page(CAROL, 10, None) == [(P + 2, ms(2)), (P + 1, ms(1))]
    assert await feeds.feed_state(DAN) == FeedState(False, False)
    await apply(feeds, FeedRemove(((BOB, P + 2),)), FeedRemove(((BOB, P + 2),)))
    assert await feeds.feed_page(BOB, 10, None) == []
    assert not (await feeds.feed_state(BOB)).exists  # no entries left: missing, reads pull
    await apply(feeds, push(P + 1, 1, BOB))  # a post pushed again after its removal is back
    assert await feeds.feed_page(BOB, 10, None) == [(P + 1, ms(1))]


async def test_fill_feed_builds_a_missing_feed(stores: Stores) -> None:
    feeds = await stores.feeds(max_feed=CAP)
    await feeds.fill_feed(BOB, [])
    assert await feeds.feed_state(BOB) == FeedState(False, False)  # nothing to push: missing
    rows = [(P + 3, ms(3)), (P + 2, ms(2)), (P + 1, ms(1))]  # newest first, as rebuilds pass
    for _ in range(2):
        await feeds.fill_feed(BOB, rows)
    assert await feeds.feed_page(BOB, 10, None) == rows
    assert await feeds.feed_state(BOB) == FeedState(True, False)  # fewer rows than the cap
    await apply(feeds, push(P + 4, 4, BOB))  # pushes continue on a rebuilt feed
    assert await feeds.feed_page(BOB, 1, None) == [(P + 4, ms(4))]


async def test_fill_feed_with_a_full_page_marks_older_history(stores: Stores) -> None:
    """As many rows as the cap: older posts may exist only in timelines (the read path pulls
    them once the feed runs out)."""
    feeds = await stores.feeds(max_feed=CAP)
    rows = newest_first([(P + i, ms(i)) for i in range(1, CAP + 1)])
    await feeds.fill_feed(BOB, rows)
    assert await feeds.feed_state(BOB) == FeedState(True, True)
    assert await feeds.feed_page(BOB, 50, None) == rows
    more = newest_first([(P + i, ms(i)) for i in range(1, CAP + 3)])
    await feeds.fill_feed(CAROL, more)
    assert await feeds.feed_page(CAROL, 50, None) == more[:CAP]  # the newest `max_feed` kept
    assert await feeds.feed_state(CAROL) == FeedState(True, True)


async def test_celebrities_are_marked_once_and_for_good(feeds: WritableFeeds) -> None:
    await apply(feeds, MarkCelebrity(ANA), MarkCelebrity(BOB))
    await apply(feeds, MarkCelebrity(ANA))
    assert await feeds.celebrities() == {ANA, BOB}


def published(post: int, author: int, second: float) -> ev.PostPublished:
    return ev.PostPublished(
        event_id=next(_ids), occurred_at=BASE + timedelta(seconds=second), actor_id=author,
        post_id=post, photo_id=post, caption="", tags=(),
        variants=ev.Variants(thumbnail="t", feed="f", full="x"), width=1, height=1, blurhash="b",
    )  # fmt: skip


def deleted(post: int, author: int) -> ev.PostDeleted:
    return ev.PostDeleted(event_id=next(_ids), occurred_at=BASE + timedelta(seconds=99),
                          actor_id=author, post_id=post)  # fmt: skip


async def test_the_planners_writes_fan_out_and_purge(feeds: WritableFeeds) -> None:
    followers = FeedFacts(followers={ANA: (BOB, CAROL)})
    await feeds.apply(feed_writes([published(P + 1, ANA, 1), published(P + 2, ANA, 2)], followers))
    for user in (BOB, CAROL):
        assert await feeds.feed_page(user, 10, None) == [(P + 2, ms(2)), (P + 1, ms(1))]
    assert set(await feeds.posts([P + 1, P + 2])) == {P + 1, P + 2}
    await feeds.apply(feed_writes([deleted(P + 1, ANA)], followers))
    for user in (BOB, CAROL):
        assert await feeds.feed_page(user, 10, None) == [(P + 2, ms(2))]
    assert await feeds.timeline_page(ANA, 10, None) == [(P + 2, ms(2))]
    assert await feeds.posts([P + 1]) == {}
    flag = ev.CelebrityFlagged(event_id=next(_ids), occurred_at=BASE, actor_id=ANA,
                               follower_count=2)  # fmt: skip
    await feeds.apply(feed_writes([flag, published(P + 3, ANA, 3)], followers))
    assert await feeds.celebrities() == {ANA}
    assert await feeds.feed_page(BOB, 10, None) == [(P + 2, ms(2))]  # pulled from now on
    assert await feeds.timeline_page(ANA, 10, None) == [(P + 3, ms(3)), (P + 2, ms(2))]
