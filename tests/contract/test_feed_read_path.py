"""The home-feed read path (projections/feeds/query.py: read_feed, rebuild_feed) over every
FeedStore adapter: memory and Redis always, the split FeedViews when PHOTOFEED_CASSANDRA_HOSTS
names a live cluster. The read path is written against the port alone, so it must page the same
feed whatever serves it; and the in-memory adapter lets its property run as a pure test, many
times over (tests/integration/test_feed_property.py runs it on Redis, beside the gateway's
one-call read in Valkey)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.feeds.logic import FeedFacts, facts_needed, feed_writes
from projections.feeds.memory import MemoryFeeds
from projections.feeds.query import order_key, read_feed, rebuild_feed
from projections.ports import Position
from schemas import events as ev
from tests.contract.adapters import WITH_MEMORY, Backend, open_backend

if TYPE_CHECKING:
    from tests.contract.stores import Stores, WritableFeeds

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
_ids = itertools.count(1 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANA, BOB, CAROL, DAN = 101, 102, 103, 104
P = 6 * 10**15  # post ids, all of 16 digits


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> Backend:
    return open_backend(request)


def ms(second: float) -> int:
    return int((BASE + timedelta(seconds=second)).timestamp() * 1000)


def published(post: int, author: int, second: float) -> ev.PostPublished:
    return ev.PostPublished(
        event_id=next(_ids), occurred_at=BASE + timedelta(seconds=second), actor_id=author,
        post_id=post, photo_id=post, caption="", tags=(),
        variants=ev.Variants(thumbnail="t", feed="f", full="x"), width=1, height=1, blurhash="b",
    )  # fmt: skip


async def whole_feed(
    store: WritableFeeds, viewer: int, following: set[int], limit: int
) -> tuple[list[int], bool]:
    """Every post id of the viewer's feed, paged `limit` at a time; whether it was missing."""
    seen: list[int] = []
    after: Position | None = None
    missing = False
    for _ in range(100):
        page = await read_feed(store, viewer, following, limit, after)
        assert len(page.posts) <= limit
        missing = missing or page.missing
        seen += [p.post_id for p in page.posts]
        if page.next is None:
            return seen, missing
        assert page.next == Position(page.posts[-1].published_ms, page.posts[-1].post_id)
        after = page.next
    raise AssertionError("paging did not end")


async def test_a_missing_feed_is_pulled_then_rebuilt(stores: Stores) -> None:
    feeds = await stores.feeds()
    posts = [(P + i, ANA if i % 2 else CAROL, i // 2) for i in range(1, 8)]
    await feeds.apply(feed_writes([published(*p) for p in posts], FeedFacts()))  # nobody pushed
    expected = [p for p, _ in sorted(((p, ms(s)) for p, _, s in posts), key=order_key,
                                     reverse=True)]  # fmt: skip
    for limit in (1, 3, 10):
        assert await whole_feed(feeds, BOB, {ANA, CAROL}, limit) == (expected, True)
    assert await rebuild_feed(feeds, feeds, BOB, {ANA, CAROL}) == len(posts)
    for limit in (1, 3, 10):
        assert await whole_feed(feeds, BOB, {ANA, CAROL}, limit) == (expected, False)
    assert await whole_feed(feeds, BOB, {ANA}, 2) == ([p for p in expected if (p - P) % 2], False)


async def test_celebrities_timelines_are_merged_into_the_pushed_feed(stores: Stores) -> None:
    feeds = await stores.feeds()
    facts = FeedFacts(followers={ANA: (BOB,), CAROL: (BOB,)})
    flag = ev.CelebrityFlagged(event_id=next(_ids), occurred_at=BASE, actor_id=CAROL,
                               follower_count=9)  # fmt: skip
    rows = [(P + 1, ANA, 1), (P + 2, CAROL, 2), (P + 3, ANA, 3), (P + 4, CAROL, 3), (P + 5, ANA, 5)]
    batch = [flag, *(published(*row) for row in rows)]
    await feeds.apply(feed_writes(batch, facts))
    assert [p for p, _ in await feeds.feed_page(BOB, 10, None)] == [P + 5, P + 3, P + 1]
    for limit in (1, 2, 10):
        got = await whole_feed(feeds, BOB, {ANA, CAROL}, limit)
        assert got == ([P + 5, P + 4, P + 3, P + 2, P + 1], False)


async def test_unfollowed_and_deleted_posts_are_left_out(stores: Stores) -> None:
    feeds = await stores.feeds()
    facts = FeedFacts(followers={ANA: (BOB,), DAN: (BOB,)})
    await feeds.apply(feed_writes([published(P + i, ANA if i < 4 else DAN, i)
                                   for i in range(1, 7)], facts))  # fmt: skip
    gone = ev.PostDeleted(event_id=next(_ids), occurred_at=BASE, actor_id=ANA, post_id=P + 2)
    await feeds.apply(feed_writes([gone], FeedFacts()))  # its purge from feeds not done yet
    assert len(await feeds.feed_page(BOB, 10, None)) == 6
    for limit in (1, 4):
        assert await whole_feed(feeds, BOB, {ANA}, limit) == ([P + 3, P + 1], False)


async def test_a_trimmed_feed_continues_from_timelines(stores: Stores) -> None:
    feeds = await stores.feeds(max_feed=3)
    facts = FeedFacts(followers={ANA: (BOB,), CAROL: (BOB,)})
    await feeds.apply(feed_writes([published(P + i, ANA if i % 3 else CAROL, i)
                                   for i in range(1, 9)], facts))  # fmt: skip
    assert (await feeds.feed_state(BOB)).trimmed
    expected = [P + i for i in range(8, 0, -1)]
    for limit in (1, 2, 3, 5):
        assert await whole_feed(feeds, BOB, {ANA, CAROL}, limit) == (expected, False)


# --- the property, pure: the in-memory adapter ----------------------------------------------------
USERS = 5
VIEWER = 1


@dataclass
class World:
    """Ground truth kept by the test, and the in-memory feeds group it drives."""

    feeds: MemoryFeeds
    threshold: int
    following: dict[int, set[int]] = field(
        default_factory=lambda: {u: set() for u in range(1, USERS + 1)}
    )
    posts: dict[int, tuple[int, int]] = field(default_factory=dict)  # post -> (author, second)
    deleted: set[int] = field(default_factory=set)
    celebrities: set[int] = field(default_factory=set)
    post_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(90))

    def followers(self, author: int) -> list[int]:
        return sorted(u for u, f in self.following.items() if author in f)

    async def apply(self, e: ev.Event) -> None:
        need = facts_needed([e])
        timelines = {
            a: sorted(((p, ms(s)) for p, (au, s) in self.posts.items()
                       if au == a and p not in self.deleted), key=order_key, reverse=True)
            for a in need.timelines_of
        }  # fmt: skip
        facts = FeedFacts({a: self.followers(a) for a in need.followers_of},
                          frozenset(self.celebrities), timelines)  # fmt: skip
        await self.feeds.apply(feed_writes([e], facts))

    async def step(self, kind: str, a: int, b: int, second: int) -> None:
        at = BASE + timedelta(seconds=second)
        if kind == "post":
            post = next(self.post_ids)  # crosses 99 -> 100: equal times of unequal ids
            self.posts[post] = (a, second)
            await self.apply(published(post, a, second))
        elif kind == "follow" and a != b:
            self.following[a].add(b)
            await self.apply(ev.UserFollowed(event_id=next(_ids), occurred_at=at, actor_id=a,
                                             followee_id=b))  # fmt: skip
            if len(self.followers(b)) >= self.threshold and b not in self.celebrities:
                await self.apply(ev.CelebrityFlagged(event_id=next(_ids), occurred_at=at,
                                                     actor_id=b, follower_count=9))  # fmt: skip
                self.celebrities.add(b)
        elif kind == "unfollow" and a != b:
            self.following[a].discard(b)
            await self.apply(ev.UserUnfollowed(event_id=next(_ids), occurred_at=at, actor_id=a,
                                               followee_id=b))  # fmt: skip
        elif kind == "delete":
            mine = sorted(p for p, (au, _) in self.posts.items() if au == a)
            live = [p for p in mine if p not in self.deleted]
            if live:
                post = live[b % len(live)]
                self.deleted.add(post)
                await self.apply(ev.PostDeleted(event_id=next(_ids), occurred_at=at, actor_id=a,
                                                post_id=post))  # fmt: skip

    def truth(self) -> list[int]:
        rows = [(p, ms(s)) for p, (a, s) in self.posts.items()
                if a in self.following[VIEWER] and p not in self.deleted]  # fmt: skip
        return [p for p, _ in sorted(rows, key=order_key, reverse=True)]


user = st.integers(1, USERS)
action = st.tuples(st.sampled_from(["post", "post", "follow", "follow", "unfollow", "delete"]),
                   st.one_of(st.just(VIEWER), user), st.integers(0, 50))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    initial=st.sets(st.integers(2, USERS), min_size=1),
    actions=st.lists(action, min_size=5, max_size=60),
    threshold=st.integers(2, 5),
    max_feed=st.sampled_from([2, 5, 800]),
    limit=st.integers(1, 6),
    rebuilt=st.booleans(),
)
def test_paged_feed_equals_ground_truth_in_memory(
    initial: set[int], actions: list[tuple[str, int, int]], threshold: int, max_feed: int,
    limit: int, rebuilt: bool,
) -> None:  # fmt: skip
    """Every live post of the authors the viewer follows now, newest first, exactly once."""

    async def run() -> None:
        world = World(MemoryFeeds(max_feed), threshold)
        second = 0
        for kind, a, b in [("follow", VIEWER, u) for u in sorted(initial)] + actions:
            second += b % 3  # equal times happen
            target = b % USERS + 1 if kind in {"follow", "unfollow"} else b
            await world.step(kind, a, target, second)
        if rebuilt:  # the feed was evicted and rebuilt from timelines
            world.feeds = await _rebuilt(world)
        seen, _ = await whole_feed(world.feeds, VIEWER, set(world.following[VIEWER]), limit)
        assert seen == world.truth()

    asyncio.run(run())


async def _rebuilt(world: World) -> MemoryFeeds:
    """A copy of the world's store whose viewer feed is gone, rebuilt the way the gateway does."""
    fresh = MemoryFeeds(world.feeds.max_feed)
    for post, (author, second) in sorted(world.posts.items(), key=lambda x: x[1][1]):
        facts = FeedFacts(celebrities=frozenset(world.celebrities))
        await fresh.apply(feed_writes([published(post, author, second)], facts))
        if post in world.deleted:
            gone = ev.PostDeleted(event_id=next(_ids), occurred_at=BASE, actor_id=author,
                                  post_id=post)  # fmt: skip
            await fresh.apply(feed_writes([gone], FeedFacts()))
    await fresh.apply(feed_writes(
        [ev.CelebrityFlagged(event_id=next(_ids), occurred_at=BASE, actor_id=c, follower_count=9)
         for c in sorted(world.celebrities)], FeedFacts()))  # fmt: skip
    following = set(world.following[VIEWER])
    await rebuild_feed(fresh, fresh, VIEWER, following)
    return fresh
