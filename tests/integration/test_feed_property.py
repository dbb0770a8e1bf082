"""Property: for random follow graphs, celebrity thresholds, posts, deletions, follows and
unfollows, paging the home feed yields exactly "every live post of the authors the viewer follows
now, newest first" — no duplicates, no gaps, across page boundaries, with posts arriving between
pages. Runs the real pure planners (feeds and graph), the real Redis adapters and both read
paths in lockstep: the Python one (projections/feeds/query.py, used with other stores) and the
one-call server-side function the gateway serves from (projections/pages/pages.lua, its deep-scroll
materialization extended every few rows)."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from gateway.keys import AccountKeys, SessionKeys
from infra.settings import Settings
from infra.stack import Stack
from projections.feeds.cards import with_url_base
from projections.feeds.logic import FeedFacts, facts_needed, feed_writes
from projections.feeds.query import FeedPage, read_feed
from projections.feeds.redis import RedisFeeds
from projections.graph.redis import RedisGraph
from projections.groups import writes_for
from projections.pages.redis import RedisPages
from projections.ports import Position
from schemas import events as ev

pytestmark = pytest.mark.stack
USERS = 6
VIEWER = 1
_versions = itertools.count(50_000)
_ids = itertools.count(10**15)


@dataclass
class Model:
    """Ground truth, kept by the test itself."""

    following: dict[int, set[int]] = field(
        default_factory=lambda: {u: set() for u in range(1, USERS + 1)}
    )
    posts: dict[int, tuple[int, int]] = field(default_factory=dict)  # post -> (author, ms)
    deleted: set[int] = field(default_factory=set)
    celebrities: set[int] = field(default_factory=set)

    def followers(self, author: int) -> list[int]:
        return sorted(u for u, f in self.following.items() if author in f)

    def truth(self, viewer: int) -> list[int]:
        rows = [(p, ms) for p, (a, ms) in self.posts.items()
                if a in self.following[viewer] and p not in self.deleted]  # fmt: skip
        # newest first; equal times as Redis orders equal scores: member bytes, descending
        return [p for p, _ in sorted(rows, key=lambda r: (r[1], str(r[0]).encode()), reverse=True)]


BASE = datetime(2026, 1, 1, tzinfo=UTC)
BASE_MS = 1_767_225_600_000  # == BASE in Unix milliseconds


def event(kind: type[ev.Event], actor: int, ms: int, **fields: object) -> ev.Event:
    at = BASE + timedelta(milliseconds=ms - BASE_MS)
    return kind(event_id=next(_ids), occurred_at=at, actor_id=actor, **fields)


class Harness:
    def __init__(
        self, redis: Redis, threshold: int, max_feed: int, pull_window: int, limit: int,
        pull_min_rows: int = 1,
    ) -> None:  # fmt: skip
        self.model = Model()
        self.redis = redis
        version = next(_versions)
        self.feeds = RedisFeeds(redis, version, max_feed=max_feed)
        self.graph = RedisGraph(redis, version)
        self.pages = RedisPages(  # deep scroll extends often; the pull cache trims and floors,
            redis, version, version, version, deep_step=3, pull_window=pull_window,
            pull_min_rows=pull_min_rows,  # and a cold build takes each celebrity's share only
        )  # fmt: skip
        self.limit = limit
        self.threshold = threshold
        self.clock = BASE_MS
        self.post_ids = itertools.count(90)  # crosses 99 -> 100: ties of ids of unequal length

    async def apply(self, e: ev.Event) -> None:
        m = self.model
        need = facts_needed([e])
        timelines = {a: [(p, ms) for p, (au, ms) in sorted(m.posts.items(), key=lambda x: -x[1][1])
                         if au == a and p not in m.deleted] for a in need.timelines_of}  # fmt: skip
        facts = FeedFacts({a: m.followers(a) for a in need.followers_of},
                          frozenset(m.celebrities), timelines)  # fmt: skip
        await self.feeds.apply(feed_writes([e], facts))
        await self.graph.apply(writes_for("graph", [e]))

    async def step(self, action: tuple[str, int, int]) -> None:
        kind, a, b = action
        m = self.model
        self.clock += random.choice([0, 1, 1, 2])  # equal timestamps happen
        if kind in {"post", "post-late"}:  # a late one is published older than the newest
            post, ms = next(self.post_ids), self.clock - (15 if kind == "post-late" else 0)
            m.posts[post] = (a, ms)
            await self.apply(event(ev.PostPublished, a, ms, post_id=post, photo_id=post,
                                   caption="", tags=(), variants=ev.Variants("t", "f", "u"),
                                   width=1, height=1, blurhash="x"))  # fmt: skip
        elif kind == "follow" and a != b:
            m.following[a].add(b)
            await self.apply(event(ev.UserFollowed, a, self.clock, followee_id=b))
            if len(m.followers(b)) >= self.threshold and b not in m.celebrities:
                await self.apply(event(ev.CelebrityFlagged, b, self.clock,
                                       follower_count=len(m.followers(b))))  # fmt: skip
                m.celebrities.add(b)
        elif kind in {"unfollow", "unfollow-unpurged"} and a != b:
            m.following[a].discard(b)
            e = event(ev.UserUnfollowed, a, self.clock, followee_id=b)
            if kind == "unfollow":
                await self.apply(e)
            else:  # the graph knows; the feeds group's purge has not happened yet
                await self.graph.apply(writes_for("graph", [e]))
        elif kind == "read":  # page 1 between changes: the pull cache follows them
            await self.compare_page(a, None)
        elif kind == "delete":
            mine = [p for p, (au, _) in m.posts.items() if au == a and p not in m.deleted]
            if mine:
                post = mine[b % len(mine)]
                m.deleted.add(post)
                await self.apply(event(ev.PostDeleted, a, self.clock, post_id=post))

    async def compare_page(self, viewer: int, cursor: Position | None) -> FeedPage:
        """One page through both read paths from the same cursor: they must agree."""
        session = (AccountKeys.account(viewer), SessionKeys.revoked(viewer, "s"), 7)
        await self.redis.hset(
            AccountKeys.account(viewer), mapping={"username": "v", "changed_at": 7}
        )
        following = set(self.model.following[viewer])
        page = await read_feed(self.feeds, viewer, following, self.limit, cursor)
        served = await self.pages.feed(viewer, session, self.limit, cursor)
        assert served.status == "ok", served
        cards = orjson.loads(with_url_base(served.posts, b"http://cdn/"))
        assert [int(c["post_id"]) for c in cards] == [p.post_id for p in page.posts]
        assert served.next == page.next
        assert len(page.posts) <= self.limit
        return page

    async def page_all(self, viewer: int, arrivals: list[tuple[str, int, int]]) -> list[int]:
        """Every page through both read paths from the same cursor: they must agree."""
        seen: list[int] = []
        cursor: Position | None = None
        for _ in range(200):
            page = await self.compare_page(viewer, cursor)
            seen += [p.post_id for p in page.posts]
            if arrivals:  # new posts arrive between pages: they land above the cursor
                await self.step(arrivals.pop())
            if page.next is None:
                return seen
            cursor = page.next
        raise AssertionError("paging did not end")


user = st.integers(1, USERS)
actor = st.one_of(st.just(VIEWER), user)  # the viewer acts half the time: its feed gets busy
action = st.one_of(
    st.tuples(st.just("post"), user, user),
    st.tuples(st.just("post-late"), user, user),
    st.tuples(st.sampled_from(["follow", "follow", "unfollow", "unfollow-unpurged"]), actor, user),
    st.tuples(st.just("unfollow-unpurged"), st.just(VIEWER), user),
    st.tuples(st.just("delete"), user, st.integers(0, 50)),
    st.tuples(st.just("read"), st.just(VIEWER), user),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    initial=st.sets(st.integers(2, USERS), min_size=1),
    actions=st.lists(action, min_size=10, max_size=60),
    arrivals=st.lists(st.tuples(st.just("post"), user, user), max_size=3),
    threshold=st.integers(2, 5),
    max_feed=st.sampled_from([3, 8, 800]),
    pull_window=st.sampled_from([1, 2, 5, 800]),
    pull_min_rows=st.sampled_from([1, 100]),
    limit=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_paged_feed_equals_ground_truth(
    stack: Stack, settings: Settings, initial: set[int], actions: list[tuple[str, int, int]],
    arrivals: list[tuple[str, int, int]], threshold: int, max_feed: int, pull_window: int,
    pull_min_rows: int, limit: int, seed: int,
) -> None:  # fmt: skip
    random.seed(seed)

    async def run() -> None:
        redis = Redis.from_url(settings.redis)
        try:
            h = Harness(redis, threshold, max_feed, pull_window, limit, pull_min_rows)
            for a in [("follow", VIEWER, u) for u in sorted(initial)] + actions:
                await h.step(a)
            expected = h.model.truth(VIEWER)
            seen = await h.page_all(VIEWER, list(arrivals))
            assert len(seen) == len(set(seen)), "a post repeated across pages"
            # posts that arrived mid-scroll are newer than the cursor: absent, not misplaced
            assert seen == expected, (seen, expected)
        finally:
            await redis.aclose()

    asyncio.run(run())


def test_base_constants_agree() -> None:
    assert (BASE - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) == BASE_MS


@pytest.mark.parametrize("pull_window", [2, 800])
def test_a_celebrity_post_published_late_reaches_a_cached_merge(
    stack: Stack, settings: Settings, pull_window: int
) -> None:
    """A viewer's pull cache read a celebrity's timeline down to its newest post; a post then
    published with an older time (below that newest) must still show on the next page read:
    a head-only re-read would miss it."""

    async def run() -> None:
        redis = Redis.from_url(settings.redis)
        try:
            h = Harness(redis, threshold=2, max_feed=800, pull_window=pull_window, limit=5)
            for step in [
                ("follow", VIEWER, 4),
                ("post", 4, 0),  # a pushed feed to merge into
                ("follow", VIEWER, 2),
                ("follow", 3, 2),
                ("post", 2, 0),
                ("post", 2, 0),
            ]:
                await h.step(step)
            assert h.model.celebrities == {2}
            await h.compare_page(VIEWER, None)  # the cache merges 2's timeline
            h.clock += 5
            await h.step(("post", 2, 0))
            await h.compare_page(VIEWER, None)  # grew at its head
            await h.step(("post-late", 2, 0))  # older than 2's newest post
            page = await h.compare_page(VIEWER, None)
            assert len(page.posts) == 5
        finally:
            await redis.aclose()

    asyncio.run(run())


def test_a_cold_pull_cache_takes_each_celebritys_share_and_floors_at_the_cut(
    stack: Stack, settings: Settings
) -> None:
    """Three celebrities of six posts each, a window of 6: a cold pull cache reads each one's
    share, ceil(2 * 6 / 3) = 4 rows (pull_min_rows 1), 12 in all, which is not more than the
    cache keeps (2 * 6: no trim), so the floor rises to the shares' cut; every page, above the
    floor and below it, still equals the ground truth."""

    async def run() -> None:
        redis = Redis.from_url(settings.redis)
        try:
            h = Harness(redis, threshold=2, max_feed=800, pull_window=6, limit=2, pull_min_rows=1)
            steps = [("follow", VIEWER, 5), ("post", 5, 0)]  # a pushed feed to merge into
            for celebrity in (2, 3, 4):
                steps += [("follow", VIEWER, celebrity), ("follow", 6, celebrity)]
            steps += [("post", celebrity, 0) for _ in range(6) for celebrity in (2, 3, 4)]
            for step in steps:
                await h.step(step)
            assert h.model.celebrities == {2, 3, 4}
            seen = await h.page_all(VIEWER, [])
            assert seen == h.model.truth(VIEWER)
            assert len(seen) == 19
            # each celebrity's share at most (3 x 4 rows; fewer when an earlier cut raised the
            # floor), not its window: 6 rows of each would pass 2 x 6 and be trimmed to 6
            assert 6 < await redis.zcard(h.pages.feeds.pull(VIEWER)) <= 12
            floor = await redis.hget(h.pages.feeds.pull_meta(VIEWER), "-floor")
            assert floor is not None  # a share was capped: the cache is exact above a floor
        finally:
            await redis.aclose()

    asyncio.run(run())
