"""Contract of the posts/timelines ports (the feeds group's writer, PostReader), run against every
adapter: memory and Redis always, Cassandra when PHOTOFEED_CASSANDRA_HOSTS names a live cluster
(skipped otherwise). Writes come from the real pure planner (`feed_writes`)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.feeds.logic import FeedFacts, feed_writes
from projections.feeds.ports import PostView
from projections.ports import Position
from schemas import events as ev
from tests.contract.adapters import WITH_MEMORY, Backend, open_backend

if TYPE_CHECKING:
    from tests.contract.stores import PostStore, Stores

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
_ids = itertools.count(5 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANA, BOB = 101, 102
P = 6 * 10**15  # post ids, all of 16 digits: equal times order by id as numbers and as bytes


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def ms(second: float) -> int:
    return int(at(second).timestamp() * 1000)


def published(post: int, author: int = ANA, second: float = 0, caption: str = "hi",
              tags: tuple[str, ...] = (), alt: str | None = None) -> ev.PostPublished:  # fmt: skip
    return ev.PostPublished(
        event_id=next(_ids), occurred_at=at(second), actor_id=author, post_id=post, photo_id=post,
        caption=caption, tags=tags,
        variants=ev.Variants(thumbnail=f"v/{post}/t.jpg", feed=f"v/{post}/f.jpg",
                             full=f"v/{post}/x.jpg"),
        width=1080, height=720, blurhash="LEHV6nWB2yk8", alt_text=alt,
    )  # fmt: skip


def deleted(post: int, author: int = ANA, second: float = 99) -> ev.PostDeleted:
    return ev.PostDeleted(event_id=next(_ids), occurred_at=at(second), actor_id=author,
                          post_id=post)  # fmt: skip


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The in-memory feeds adapter keeps this contract too."""
    return open_backend(request)


@pytest.fixture
async def posts(stores: Stores) -> PostStore:
    return await stores.posts()


async def apply(store: PostStore, *events: ev.Event) -> None:
    await store.apply(feed_writes(events, FeedFacts()))


async def whole_timeline(store: PostStore, author: int, size: int = 2) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    after: Position | None = None
    while True:
        page = await store.timeline_page(author, size, after)
        seen += page
        if len(page) < size:
            return seen
        after = Position(page[-1][1], page[-1][0])


async def test_posts_by_id(posts: PostStore) -> None:
    await apply(posts, published(P + 1, caption="sunset", tags=("sea", "sky"), alt="the sea"),
                published(P + 2, author=BOB, second=1))  # fmt: skip
    found = await posts.posts([P + 1, P + 2, P + 3])
    assert set(found) == {P + 1, P + 2}  # unknown ids are absent
    assert found[P + 1] == PostView(
        post_id=P + 1, author_id=ANA, caption="sunset", tags=("sea", "sky"),
        variants={"thumbnail": f"v/{P + 1}/t.jpg", "feed": f"v/{P + 1}/f.jpg",
                  "full": f"v/{P + 1}/x.jpg"},
        width=1080, height=720, blurhash="LEHV6nWB2yk8", alt_text="the sea", published_ms=ms(0),
    )  # fmt: skip
    assert (found[P + 2].author_id, found[P + 2].tags, found[P + 2].alt_text) == (BOB, (), None)
    assert await posts.posts([]) == {}


async def test_an_older_write_applied_later_changes_nothing(posts: PostStore) -> None:
    older = published(P + 1, caption="older", tags=("old",))
    newer = published(P + 1, caption="newer", alt="the sea")  # a later event of the same post
    await apply(posts, newer)
    await apply(posts, older)
    view = (await posts.posts([P + 1]))[P + 1]
    assert (view.caption, view.tags, view.alt_text) == ("newer", (), "the sea")


async def test_a_deleted_post_is_gone_and_stays_gone(posts: PostStore) -> None:
    publish = published(P + 1, second=1)
    await apply(posts, publish, published(P + 2, second=2))
    await apply(posts, deleted(P + 1))
    await apply(posts, publish)  # redelivered: an older publication cannot revive it
    assert set(await posts.posts([P + 1, P + 2])) == {P + 2}
    assert await posts.timeline_page(ANA, 10, None) == [(P + 2, ms(2))]
    assert await posts.post_counts([ANA]) == {ANA: 1}


async def test_a_deletion_applied_before_its_publication_wins(stores: Stores) -> None:
    publish, delete = published(P + 1, second=1), deleted(P + 1)
    store = await stores.posts()
    await apply(store, delete)
    await apply(store, publish)  # older, applied later
    assert await store.posts([P + 1]) == {}
    assert await store.timeline_page(ANA, 10, None) == []
    assert await store.post_counts([ANA]) == {ANA: 0}


async def test_timelines_page_newest_first_without_gaps(posts: PostStore) -> None:
    ids = [P + i for i in range(1, 8)]
    await apply(posts, *(published(p, second=i // 2) for i, p in enumerate(ids)))
    expected = sorted(((p, ms(i // 2)) for i, p in enumerate(ids)), key=lambda r: (r[1], r[0]),
                      reverse=True)  # fmt: skip
    first = await posts.timeline_page(ANA, 3, None)
    assert first == expected[:3]
    assert await whole_timeline(posts, ANA, size=3) == expected  # equal times: larger id first
    await apply(posts, published(P + 50, second=60))  # a new post between pages
    rest = await posts.timeline_page(ANA, 10, Position(first[-1][1], first[-1][0]))
    assert rest == expected[3:]
    assert await posts.timeline_page(ANA, 0, None) == []


async def test_many_timelines_and_counts(posts: PostStore) -> None:
    await apply(posts, published(P + 1, ANA, 1), published(P + 2, BOB, 2), published(P + 3, ANA, 3),
                published(P + 4, BOB, 4), deleted(P + 4, BOB))  # fmt: skip
    pages = await posts.timeline_pages([ANA, BOB, 999], 5, None)
    assert pages == {ANA: [(P + 3, ms(3)), (P + 1, ms(1))], BOB: [(P + 2, ms(2))], 999: []}
    older = await posts.timeline_pages([ANA, BOB], 5, Position(ms(3), P + 3))
    assert older == {ANA: [(P + 1, ms(1))], BOB: [(P + 2, ms(2))]}
    assert await posts.timeline_pages([], 5, None) == {}
    assert await posts.post_counts([ANA, BOB, 999]) == {ANA: 2, BOB: 1, 999: 0}


async def test_redelivery_changes_nothing(posts: PostStore) -> None:
    batch = [published(P + 1, second=1), published(P + 2, second=2), deleted(P + 2)]
    for _ in range(3):
        await apply(posts, *batch)
    assert set(await posts.posts([P + 1, P + 2])) == {P + 1}
    assert await posts.timeline_page(ANA, 10, None) == [(P + 1, ms(1))]
    assert await posts.post_counts([ANA]) == {ANA: 1}


@pytest.mark.parametrize("seed", [1, 2])
async def test_any_order_builds_the_same_posts(stores: Stores, seed: int) -> None:
    rng = random.Random(seed)
    ids = [P + i for i in range(1, 13)]
    events: list[ev.Event] = []
    for i, p in enumerate(ids):
        author = rng.choice([ANA, BOB])
        events.append(published(p, author, second=i // 3))
        if rng.random() < 0.4:
            events.append(deleted(p, author, second=i))
    built = []
    for order in (events, rng.sample(events, len(events))):
        store = await stores.posts()
        cut = rng.randint(0, len(order))
        await apply(store, *order[:cut])
        await apply(store, *order[cut // 2 :])
        timelines = [await whole_timeline(store, a) for a in (ANA, BOB)]
        built.append((await store.posts(ids), timelines, await store.post_counts([ANA, BOB])))
    assert built[0] == built[1]
