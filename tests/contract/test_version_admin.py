"""Contract of the VersionAdmin port (diff, drop, activate: what a replay does with whole
versions), run against the admin of every group on every adapter: Redis's RedisVersionAdmin
(graph, photos, feeds, engagement) and the search index's versions on SQLite always; the search
index on Elasticsearch when PHOTOFEED_ELASTICSEARCH_URL names a live server, and the Cassandra
groups (CassandraVersions, or CombinedAdmin over it and Redis) when PHOTOFEED_CASSANDRA_HOSTS names
a live cluster (skipped otherwise): each admin as `photofeed.stores.version_admin` builds it."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from projections.backends.cassandra import CassandraStore, CassandraVersions
from projections.backends.composite import CombinedAdmin, PreparedWriter, SplitWriter
from projections.engagement.keys import EngagementKeys
from projections.engagement.redis import RedisEngagement
from projections.feeds.keys import FeedKeys
from projections.feeds.redis import RedisFeeds
from projections.graph.keys import GraphKeys
from projections.graph.redis import RedisGraph
from projections.photos.keys import PhotoKeys
from projections.photos.redis import RedisPhotos
from projections.ports import ProjectionWriter
from projections.search.sqlite import SqliteSearchVersions
from projections.versions.ports import VersionAdmin
from projections.versions.redis_admin import RedisVersionAdmin
from projections.writes import (
    FeedAdd,
    IndexPost,
    IndexUser,
    MarkCelebrity,
    PutPost,
    PutUser,
    SetComment,
    SetFollow,
    SetLike,
    SetPhoto,
    SetTimeline,
    UnindexPost,
    Write,
)
from tests.contract.adapters import (
    CASSANDRA_HOSTS,
    CASSANDRA_REPLICATION,
    ES_URL,
    NO_CASSANDRA,
    STACK,
)

pytest_plugins = ["tests.contract.stores"]  # the session's Cassandra session, when configured
T = 1_772_366_400_000  # ms of every write below
A, B, C = 101, 102, 103  # users
POST, PHOTO, COMMENT = 6 * 10**15 + 1, 6 * 10**15 + 2, 8 * 10**15 + 1
_redis_versions = itertools.count(9_200_000)  # far from the versions other suites use
POST_FIELDS = (("author_id", str(A)), ("caption", "sunset"), ("published_ms", str(T)))


@dataclass(frozen=True)
class World:
    """What one group's versions are filled with in these tests."""

    writes: list[Write]  # what every version built alike holds
    change: list[Write]  # newer writes that make a version differ from `writes`
    cache: list[Write] = field(default_factory=list)  # writes to state `diff` does not compare


WORLDS = {
    "graph": World(
        [PutUser(A, "ana", T, 10), PutUser(B, "bob", T, 11), SetFollow(A, B, T, True, 12)],
        [PutUser(A, "ana2", T, 20), SetFollow(B, A, T, True, 21)],
    ),
    "photos": World(
        [SetPhoto(PHOTO, A, "published", 10, (("width", "1080"),))],
        [SetPhoto(PHOTO, A, "rejected", 20, (("reason", "corrupt"),))],
    ),
    "feeds": World(
        [PutPost(POST, A, POST_FIELDS, 10), SetTimeline(A, POST, T, True, 10), MarkCelebrity(C)],
        [PutPost(POST, A, (("caption", "edited"),), 20)],
        cache=[FeedAdd((B, C), POST, T)],  # home feeds: a cache whose content depends on timing
    ),
    "engagement": World(
        [
            SetLike(POST, A, B, T, True, 10, True),
            SetComment(COMMENT, POST, A, B, T, "hi", True, 11, True),
        ],
        [SetLike(POST, A, C, T, True, 20, True)],
    ),
    "search": World(
        [IndexPost(POST, A, "sunset", ("sea",), T, 10), IndexUser(A, "ana", 11)],
        [UnindexPost(POST, 20)],
    ),
}
REDIS_PREFIXES: dict[str, Callable[[int], str]] = {
    "graph": lambda v: GraphKeys(v).prefix,
    "photos": lambda v: PhotoKeys(v).prefix,
    "feeds": lambda v: FeedKeys(v).prefix,
    "engagement": lambda v: EngagementKeys(v).prefix,
}
NO_ES = "no Elasticsearch: set PHOTOFEED_ELASTICSEARCH_URL to run"
CASSANDRA_GROUPS = ("graph", "feeds", "engagement")  # photos stay in Redis
CASSANDRA_MARKS = [STACK, pytest.mark.skipif(not CASSANDRA_HOSTS, reason=NO_CASSANDRA)]
KINDS = [
    *(pytest.param(f"redis:{g}", marks=STACK) for g in REDIS_PREFIXES),
    "sqlite:search",
    pytest.param("elasticsearch:search", marks=pytest.mark.skipif(not ES_URL, reason=NO_ES)),
    *(pytest.param(f"cassandra:{g}", marks=CASSANDRA_MARKS) for g in CASSANDRA_GROUPS),
]
WITH_CACHES = [  # groups with state `diff` skips
    pytest.param("redis:feeds", marks=STACK),
    pytest.param("cassandra:feeds", marks=CASSANDRA_MARKS),
]


@dataclass
class Versioned:
    """One group's versions on one adapter: the admin under test, the writer of each version,
    fresh version numbers, and how a version is made comparable before anything is written."""

    group: str
    admin: VersionAdmin
    writer_at: Callable[[int], ProjectionWriter]
    numbers: Iterator[int]
    prepare: Callable[[int], Awaitable[object]] | None = None  # Cassandra: the keyspace
    redis: Redis | None = None  # where the version's keys are, when (partly) in Redis
    used: list[int] = field(default_factory=list)

    @property
    def world(self) -> World:
        return WORLDS[self.group]

    async def fresh(self, *batches: list[Write]) -> int:
        """A new version, prepared, holding `batches` written one after the other."""
        version = next(self.numbers)
        self.used.append(version)
        if self.prepare is not None:
            await self.prepare(version)
        for batch in batches:
            await self.writer_at(version).apply(batch)
        return version

    async def redis_keys(self, version: int) -> list[bytes]:
        """Every key of `version` in Valkey: what `drop` must remove."""
        assert self.redis is not None
        pattern = f"{REDIS_PREFIXES[self.group](version)}:*"
        return [key async for key in self.redis.scan_iter(match=pattern)]


def redis_writer(group: str, redis: Redis) -> Callable[[int], ProjectionWriter]:
    writers: dict[str, Callable[[int], ProjectionWriter]] = {
        "graph": lambda v: RedisGraph(redis, v),
        "photos": lambda v: RedisPhotos(redis, v),
        "feeds": lambda v: RedisFeeds(redis, v),
        "engagement": lambda v: RedisEngagement(redis, v),
    }
    return writers[group]


def redis_admin(group: str, redis: Redis) -> RedisVersionAdmin:
    caches = FeedKeys.CACHE_SUFFIXES if group == "feeds" else ()
    return RedisVersionAdmin(redis, REDIS_PREFIXES[group], caches)


def cassandra_versioned(group: str, redis: Redis, store: CassandraStore) -> Versioned:
    """The group as `photofeed.stores` splits it: the graph in Cassandra alone; posts and
    timelines in Cassandra, feeds in Redis; engagement in both."""
    from projections.engagement import cassandra as engagement
    from projections.feeds import cassandra as feeds
    from projections.graph import cassandra as graph

    prefix = f"pft{uuid.uuid4().hex[:12]}"
    of: dict[str, Callable[[CassandraStore, int, str], CassandraVersions]] = {
        "graph": graph.versions, "feeds": feeds.versions, "engagement": engagement.versions,
    }  # fmt: skip
    cass = of[group](store, CASSANDRA_REPLICATION, prefix)
    readers: dict[str, Callable[[int], Any]] = {
        "graph": lambda v: graph.CassandraGraph(store, cass.keyspace(v)),
        "feeds": lambda v: feeds.CassandraPosts(store, cass.keyspace(v)),
        "engagement": lambda v: engagement.CassandraEngagement(store, cass.keyspace(v)),
    }

    def durable(version: int) -> ProjectionWriter:
        return PreparedWriter(cass, version, readers[group](version))

    if group == "graph":
        return Versioned(group, cass, durable, itertools.count(1), cass.prepare)
    hot = redis_writer(group, redis)
    routes: dict[str, Callable[[int], ProjectionWriter]] = {
        "feeds": lambda v: SplitWriter(
            [((PutPost, SetTimeline), durable(v)), ((FeedAdd, MarkCelebrity), hot(v))]
        ),
        "engagement": lambda v: SplitWriter([(None, hot(v)), (None, durable(v))]),
    }
    admin = CombinedAdmin(redis_admin(group, redis), cass)
    return Versioned(group, admin, routes[group], _redis_versions, cass.prepare, redis)


@pytest.fixture(params=KINDS)
async def versioned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Versioned]:
    backend, group = str(request.param).split(":")
    closing: Callable[[], Awaitable[object]] | None = None
    if backend == "redis":
        redis = request.getfixturevalue("redis")
        harness = Versioned(group, redis_admin(group, redis), redis_writer(group, redis),
                            _redis_versions, redis=redis)  # fmt: skip
    elif backend == "sqlite":
        search = SqliteSearchVersions(tmp_path_factory.mktemp("search"))
        harness = Versioned(group, search, search.at, itertools.count(1))
    elif backend == "elasticsearch":
        from projections.search.elasticsearch import ElasticsearchVersions

        assert ES_URL is not None
        es = ElasticsearchVersions.connect(ES_URL, prefix=f"photofeed-test-{uuid.uuid4().hex[:8]}")

        async def prepare_index(version: int) -> None:
            await es.at(version).prepare()

        harness = Versioned(group, es, es.at, itertools.count(1), prepare_index)
        closing = es.close
    else:
        redis = request.getfixturevalue("redis")
        harness = cassandra_versioned(group, redis, request.getfixturevalue("cassandra_store"))
    try:
        yield harness
    finally:
        for version in harness.used:
            await harness.admin.drop(version)
        if closing is not None:
            await closing()


async def test_versions_built_alike_do_not_differ(versioned: Versioned) -> None:
    writes = versioned.world.writes
    a = await versioned.fresh(writes)
    b = await versioned.fresh(*([w] for w in writes), writes)  # one by one, then redelivered
    assert await versioned.admin.diff(a, b) == (0, [])
    assert await versioned.admin.diff(b, a) == (0, [])
    assert await versioned.admin.diff(a, a) == (0, [])


async def test_a_difference_is_counted_and_sampled(versioned: Versioned) -> None:
    a = await versioned.fresh(versioned.world.writes)
    b = await versioned.fresh(versioned.world.writes, versioned.world.change)
    count, sample = await versioned.admin.diff(a, b)
    assert count >= 1
    assert 1 <= len(sample) <= min(count, 20)
    assert all(isinstance(key, str) and key for key in sample)
    assert (await versioned.admin.diff(b, a))[0] == count
    assert await versioned.admin.diff(a, b, limit=1) == (count, sample[:1])


async def test_an_empty_version_differs_by_everything(versioned: Versioned) -> None:
    a = await versioned.fresh(versioned.world.writes)
    empty, other = await versioned.fresh(), await versioned.fresh()
    assert (await versioned.admin.diff(a, empty))[0] >= 1
    assert await versioned.admin.diff(empty, other) == (0, [])


async def test_a_dropped_version_leaves_nothing_and_only_it_goes(versioned: Versioned) -> None:
    world = versioned.world
    a = await versioned.fresh(world.writes, world.cache)
    b = await versioned.fresh(world.writes, world.cache)
    assert await versioned.admin.drop(a) >= 1
    assert await versioned.admin.drop(a) == 0  # counts what it removed: nothing was left
    if versioned.redis is not None:
        assert await versioned.redis_keys(a) == []
        assert await versioned.redis_keys(b) != []
    c = await versioned.fresh(world.writes)
    assert await versioned.admin.diff(b, c) == (0, [])  # the other version is whole
    assert await versioned.admin.drop(next(versioned.numbers)) == 0  # never created


async def test_activate_changes_no_content(versioned: Versioned) -> None:
    a = await versioned.fresh(versioned.world.writes)
    b = await versioned.fresh(versioned.world.writes)
    for _ in range(2):  # idempotent: a retried swap activates again
        await versioned.admin.activate(b)
    assert await versioned.admin.diff(a, b) == (0, [])
    assert await versioned.admin.diff(b, a) == (0, [])


@pytest.mark.parametrize("versioned", WITH_CACHES, indirect=True)
async def test_caches_are_not_compared_but_are_dropped(versioned: Versioned) -> None:
    """Home feeds depend on when posts arrived relative to follows, so a rebuild's differ from
    the live ones without either being wrong: `diff` skips them, `drop` removes them."""
    world = versioned.world
    a = await versioned.fresh(world.writes, world.cache)
    b = await versioned.fresh(world.writes)
    assert await versioned.admin.diff(a, b) == (0, [])
    assert await versioned.admin.drop(a) >= 1
    assert await versioned.redis_keys(a) == []
