"""Contract of the feeds group's tag timelines (FeedStore.tag_page, written by SetPostTags), run
against every adapter: memory and Redis always, Redis beside Cassandra's posts (the split
FeedViews) when PHOTOFEED_CASSANDRA_HOSTS names a live cluster (skipped otherwise).

A publication puts the post in each of its (normalised) tags' timelines at its time; a deletion,
which names no tags, takes it out of those it was put in; writes are guarded by `seq`, so an older
publication redelivered after the deletion does not bring it back. Pages are newest first, keyset
paged by (ms, id) as the home feed is."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.feeds.logic import FeedFacts, feed_writes
from projections.feeds.query import order_key
from projections.ports import Position
from projections.writes import SetPostTags, Write
from schemas import events as ev
from tests.contract.adapters import WITH_MEMORY, Backend, open_backend

if TYPE_CHECKING:
    from tests.contract.stores import Stores, WritableFeeds

pytest_plugins = ["tests.contract.stores"]
_ids = itertools.count(3 * 10**15)
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANA = 101
P = 6 * 10**15  # post ids of 16 digits: equal times order by id as numbers and as bytes


def ms(second: float) -> int:
    return int((BASE + timedelta(seconds=second)).timestamp() * 1000)


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> Backend:
    return open_backend(request)


@pytest.fixture
async def feeds(stores: Stores) -> WritableFeeds:
    return await stores.feeds()


def tagged(post: int, second: float, *tags: str, seq: int | None = None) -> SetPostTags:
    return SetPostTags(post, tags, ms(second), True, next(_ids) if seq is None else seq)


def untagged(post: int, seq: int | None = None) -> SetPostTags:
    return SetPostTags(post, (), 0, False, next(_ids) if seq is None else seq)


async def apply(store: WritableFeeds, *writes: Write) -> None:
    await store.apply(list(writes))


async def whole(store: WritableFeeds, tag: str, size: int) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    after: Position | None = None
    while True:
        page = await store.tag_page(tag, size, after)
        assert len(page) <= size
        seen += page
        if len(page) < size:
            return seen
        after = Position(page[-1][1], page[-1][0])


async def test_an_unknown_tag_has_no_posts(feeds: WritableFeeds) -> None:
    assert await feeds.tag_page("nothing", 10, None) == []
    assert await feeds.tag_page("nothing", 10, Position(ms(1), P)) == []


async def test_a_post_is_in_each_of_its_tags_newest_first(feeds: WritableFeeds) -> None:
    await apply(feeds, tagged(P + 1, 1, "sea", "sky"), tagged(P + 2, 2, "sea"),
                tagged(P + 3, 2, "sea"), tagged(P + 4, 0, "café"))  # fmt: skip
    assert await feeds.tag_page("sea", 10, None) == [(P + 3, ms(2)), (P + 2, ms(2)), (P + 1, ms(1))]
    assert await feeds.tag_page("sky", 10, None) == [(P + 1, ms(1))]
    assert await feeds.tag_page("café", 10, None) == [(P + 4, ms(0))]
    for size in (1, 2, 3):  # equal times: the id breaks the tie, no row lost at a page boundary
        assert await whole(feeds, "sea", size) == await feeds.tag_page("sea", 10, None)


async def test_a_deletion_leaves_every_tag_and_an_older_publication_cannot_revive(
    feeds: WritableFeeds,
) -> None:
    published, deleted = next(_ids), next(_ids)
    await apply(feeds, tagged(P + 1, 1, "sea", "sky", seq=published), tagged(P + 2, 2, "sea"))
    await apply(feeds, untagged(P + 1, seq=deleted))
    assert await feeds.tag_page("sea", 10, None) == [(P + 2, ms(2))]
    assert await feeds.tag_page("sky", 10, None) == []
    await apply(feeds, tagged(P + 1, 1, "sea", "sky", seq=published))  # redelivered
    await apply(feeds, untagged(P + 1, seq=deleted))  # and again
    assert await feeds.tag_page("sea", 10, None) == [(P + 2, ms(2))]
    assert await feeds.tag_page("sky", 10, None) == []


async def test_a_republication_moves_the_post_to_its_new_tags(feeds: WritableFeeds) -> None:
    await apply(feeds, tagged(P + 1, 1, "old", "kept"), tagged(P + 1, 1, "kept", "new"))
    assert await feeds.tag_page("old", 10, None) == []
    assert await feeds.tag_page("kept", 10, None) == [(P + 1, ms(1))]
    assert await feeds.tag_page("new", 10, None) == [(P + 1, ms(1))]


async def test_the_handlers_key_timelines_by_normalised_tags(feeds: WritableFeeds) -> None:
    post = ev.PostPublished(
        event_id=next(_ids), occurred_at=BASE, actor_id=ANA, post_id=P + 9, photo_id=P + 9,
        caption="#ignored here: the event's tags decide", tags=("Sea", "CAFÉ", "sea"),
        variants=ev.Variants("t", "f", "u"), width=1, height=1, blurhash="",
    )  # fmt: skip
    gone = ev.PostDeleted(event_id=next(_ids), occurred_at=BASE, actor_id=ANA, post_id=P + 9)
    await apply(feeds, *feed_writes([post], FeedFacts()))
    at = int(BASE.timestamp() * 1000)
    assert await feeds.tag_page("sea", 10, None) == [(P + 9, at)]
    assert await feeds.tag_page("café", 10, None) == [(P + 9, at)]
    assert await feeds.tag_page("ignored", 10, None) == []
    assert (await feeds.posts([P + 9]))[P + 9].tags == ("sea", "café")
    await apply(feeds, *feed_writes([gone], FeedFacts()))
    assert await feeds.tag_page("sea", 10, None) == []


async def test_pages_are_ordered_as_the_read_path_merges(feeds: WritableFeeds) -> None:
    rows = [(P + i, ms(i // 3)) for i in range(12)]
    await apply(feeds, *(SetPostTags(post, ("t",), at, True, next(_ids)) for post, at in rows))
    expected = sorted(rows, key=order_key, reverse=True)
    assert await whole(feeds, "t", 5) == expected
