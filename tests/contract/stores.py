"""Fresh projection stores of each adapter for the projection contract suites.

Memory runs everywhere (pure: no server) for the ports that have an in-memory adapter. Redis
always runs: a fresh version on the session's Valkey (the real local stack), dropped afterwards.
Cassandra runs when PHOTOFEED_CASSANDRA_HOSTS names a live cluster: a fresh keyspace per store,
dropped afterwards, beside a fresh Redis version for the state that stays in Valkey (home feeds,
celebrities, counters: the split stores `photofeed/stores.py` builds); otherwise its tests are
skipped with that reason.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pytest
from redis.asyncio import Redis

from projections.backends.cassandra import CassandraStore, CassandraVersions
from projections.backends.composite import EngagementViews, FeedViews, SplitWriter
from projections.engagement import cassandra as cassandra_engagement
from projections.engagement import ports as engagement_ports
from projections.engagement.cassandra import CassandraEngagement
from projections.engagement.keys import EngagementKeys
from projections.engagement.ports import CommentReader, NotificationReader
from projections.engagement.redis import RedisEngagement
from projections.feeds import cassandra as cassandra_posts
from projections.feeds.cassandra import CassandraPosts
from projections.feeds.keys import FeedKeys
from projections.feeds.logic import MAX_FEED
from projections.feeds.memory import MemoryFeeds
from projections.feeds.ports import FeedStore, PostReader
from projections.feeds.redis import RedisFeeds
from projections.graph import cassandra as cassandra_graph
from projections.graph.cassandra import CassandraGraph
from projections.graph.keys import GraphKeys
from projections.graph.ports import GraphReader, UserReader
from projections.graph.redis import RedisGraph
from projections.ports import ProjectionWriter
from projections.versions.redis_admin import RedisVersionAdmin
from projections.writes import (
    FeedAdd,
    FeedRemove,
    MarkCelebrity,
    PutPost,
    SetPostTags,
    SetTimeline,
    Write,
)
from tests.contract.adapters import (
    CASSANDRA_HOSTS,
    CASSANDRA_REPLICATION,
    STORES,
    Backend,
    open_backend,
)

_redis_versions = itertools.count(9_100_000)  # far from the versions other suites use


class GraphStore(ProjectionWriter, UserReader, GraphReader, Protocol):
    """The graph group: its writer, UserReader and GraphReader."""


class PostStore(ProjectionWriter, PostReader, Protocol):
    """Posts and timelines: the writer of PutPost/SetTimeline and PostReader."""


class WritableFeeds(ProjectionWriter, FeedStore, Protocol):
    """The feeds group as the worker writes it and the read path reads it: FeedStore."""


class EngagementStore(ProjectionWriter, CommentReader, NotificationReader, Protocol):
    """Comments and notifications: their writer, CommentReader and NotificationReader."""


class WritableEngagement(ProjectionWriter, engagement_ports.EngagementStore, Protocol):
    """The engagement group as the worker writes it and the gateway reads it: EngagementStore."""


class SplitFeeds(FeedViews):
    """FeedViews with the writer `photofeed.stores.writer_factory` pairs with it: posts and
    timelines to the durable store, home feeds, tag timelines and celebrities to Redis."""

    def __init__(self, hot: RedisFeeds, durable: CassandraPosts) -> None:
        super().__init__(hot, durable)
        feeds = (FeedAdd, FeedRemove, MarkCelebrity, SetPostTags)
        self._writer = SplitWriter([((PutPost, SetTimeline), durable), (feeds, hot)])

    async def apply(self, writes: Sequence[Write]) -> None:
        await self._writer.apply(writes)


class SplitEngagement(EngagementViews):
    """EngagementViews with the writer `writer_factory` pairs with it: every write to both."""

    def __init__(self, hot: RedisEngagement, durable: CassandraEngagement) -> None:
        super().__init__(hot, durable)
        self._writer = SplitWriter([(None, hot), (None, durable)])

    async def apply(self, writes: Sequence[Write]) -> None:
        await self._writer.apply(writes)


@dataclass
class Stores:
    """Opens fresh, empty stores on one backend; `close` drops every one it opened."""

    backend: Backend
    _drops: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    async def graph(self) -> GraphStore:
        if self.backend.kind == "redis":
            return RedisGraph(self._client(), self._redis(lambda v: GraphKeys(v).prefix))
        store, keyspace = await self._cassandra(cassandra_graph.versions)
        return CassandraGraph(store, keyspace)

    async def posts(self) -> PostStore:
        if self.backend.kind == "memory":
            return MemoryFeeds()
        if self.backend.kind == "redis":
            return RedisFeeds(self._client(), self._redis(lambda v: FeedKeys(v).prefix))
        store, keyspace = await self._cassandra(cassandra_posts.versions)
        return CassandraPosts(store, keyspace)

    async def feeds(self, max_feed: int = MAX_FEED) -> WritableFeeds:
        """The whole feeds group: one adapter, or Redis beside Cassandra's posts."""
        if self.backend.kind == "memory":
            return MemoryFeeds(max_feed)
        hot = RedisFeeds(
            self._client(), self._redis(lambda v: FeedKeys(v).prefix), max_feed=max_feed
        )
        if self.backend.kind == "redis":
            return hot
        store, keyspace = await self._cassandra(cassandra_posts.versions)
        return SplitFeeds(hot, CassandraPosts(store, keyspace))

    async def engagement(self) -> EngagementStore:
        if self.backend.kind == "redis":
            version = self._redis(lambda v: EngagementKeys(v).prefix)
            return RedisEngagement(self._client(), version)
        store, keyspace = await self._cassandra(cassandra_engagement.versions)
        return CassandraEngagement(store, keyspace)

    async def engagement_views(self) -> WritableEngagement:
        """The whole engagement group: Redis, or Redis's counters beside Cassandra's rest."""
        hot = RedisEngagement(self._client(), self._redis(lambda v: EngagementKeys(v).prefix))
        if self.backend.kind == "redis":
            return hot
        store, keyspace = await self._cassandra(cassandra_engagement.versions)
        return SplitEngagement(hot, CassandraEngagement(store, keyspace))

    def _client(self) -> Redis:
        assert self.backend.redis is not None, f"no Redis on the {self.backend.kind} backend"
        return self.backend.redis

    def _redis(self, prefix_of: Callable[[int], str]) -> int:
        version = next(_redis_versions)
        admin = RedisVersionAdmin(self._client(), prefix_of)
        self._drops.append(lambda: admin.drop(version))
        return version

    async def _cassandra(
        self, versions_of: Callable[[CassandraStore, int, str], CassandraVersions]
    ) -> tuple[CassandraStore, str]:
        store = self.backend.cassandra
        assert store is not None, f"no Cassandra on the {self.backend.kind} backend"
        versions = versions_of(store, CASSANDRA_REPLICATION, f"pft{uuid.uuid4().hex[:12]}")
        self._drops.append(lambda: versions.drop(1))
        return store, await versions.prepare(1)

    async def close(self) -> None:
        for drop in reversed(self._drops):
            await drop()
        self._drops.clear()


@pytest.fixture(scope="session")
async def cassandra_store() -> AsyncIterator[CassandraStore]:
    """One session on the Cassandra cluster of PHOTOFEED_CASSANDRA_HOSTS, for the whole run."""
    store = await CassandraStore.connect(CASSANDRA_HOSTS)
    yield store
    await store.close()


@pytest.fixture(params=STORES)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each contract test runs once per adapter (a suite whose port has an in-memory adapter
    overrides this fixture with WITH_MEMORY)."""
    return open_backend(request)


@pytest.fixture
async def stores(backend: Backend) -> AsyncIterator[Stores]:
    opened = Stores(backend)
    yield opened
    await opened.close()
