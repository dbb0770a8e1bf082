"""Fresh projection stores of each adapter for the projection contract suites.

Redis always runs: a fresh version on the session's Valkey (the real local stack), dropped
afterwards. Cassandra runs when PHOTOFEED_CASSANDRA_HOSTS names a live cluster: a fresh keyspace
per store, dropped afterwards; otherwise its tests are skipped with that reason.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import pytest
from redis.asyncio import Redis

from projections.backends.cassandra import CassandraStore, CassandraVersions
from projections.engagement import cassandra as cassandra_engagement
from projections.engagement.cassandra import CassandraEngagement
from projections.engagement.keys import EngagementKeys
from projections.engagement.ports import CommentReader, NotificationReader
from projections.engagement.redis import RedisEngagement
from projections.feeds import cassandra as cassandra_posts
from projections.feeds.cassandra import CassandraPosts
from projections.feeds.keys import FeedKeys
from projections.feeds.ports import PostReader
from projections.feeds.redis import RedisFeeds
from projections.graph import cassandra as cassandra_graph
from projections.graph.cassandra import CassandraGraph
from projections.graph.keys import GraphKeys
from projections.graph.ports import GraphReader, UserReader
from projections.graph.redis import RedisGraph
from projections.ports import ProjectionWriter
from projections.versions.redis_admin import RedisVersionAdmin

CASSANDRA_HOSTS = os.environ.get("PHOTOFEED_CASSANDRA_HOSTS", "")
CASSANDRA_REPLICATION = int(os.environ.get("PHOTOFEED_CASSANDRA_REPLICATION") or 1)
NO_CASSANDRA = "no Cassandra: set PHOTOFEED_CASSANDRA_HOSTS to run"
STORES = [
    "redis",
    pytest.param("cassandra", marks=pytest.mark.skipif(not CASSANDRA_HOSTS, reason=NO_CASSANDRA)),
]
_redis_versions = itertools.count(9_100_000)  # far from the versions other suites use


class GraphStore(ProjectionWriter, UserReader, GraphReader, Protocol):
    """The graph group: its writer, UserReader and GraphReader."""


class PostStore(ProjectionWriter, PostReader, Protocol):
    """Posts and timelines: the writer of PutPost/SetTimeline and PostReader."""


class EngagementStore(ProjectionWriter, CommentReader, NotificationReader, Protocol):
    """Comments and notifications: their writer, CommentReader and NotificationReader."""


@dataclass
class Backend:
    """The server a test's stores live on: the session Valkey or a Cassandra cluster."""

    kind: str
    redis: Redis | None = None
    cassandra: CassandraStore | None = None


@dataclass
class Stores:
    """Opens fresh, empty stores on one backend; `close` drops every one it opened."""

    backend: Backend
    _drops: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    async def graph(self) -> GraphStore:
        if self.backend.redis is not None:
            version = self._redis(lambda v: GraphKeys(v).prefix)
            return RedisGraph(self.backend.redis, version)
        store, keyspace = await self._cassandra(cassandra_graph.versions)
        return CassandraGraph(store, keyspace)

    async def posts(self) -> PostStore:
        if self.backend.redis is not None:
            version = self._redis(lambda v: FeedKeys(v).prefix)
            return RedisFeeds(self.backend.redis, version)
        store, keyspace = await self._cassandra(cassandra_posts.versions)
        return CassandraPosts(store, keyspace)

    async def engagement(self) -> EngagementStore:
        if self.backend.redis is not None:
            version = self._redis(lambda v: EngagementKeys(v).prefix)
            return RedisEngagement(self.backend.redis, version)
        store, keyspace = await self._cassandra(cassandra_engagement.versions)
        return CassandraEngagement(store, keyspace)

    def _redis(self, prefix_of: Callable[[int], str]) -> int:
        assert self.backend.redis is not None
        version = next(_redis_versions)
        admin = RedisVersionAdmin(self.backend.redis, prefix_of)
        self._drops.append(lambda: admin.drop(version))
        return version

    async def _cassandra(
        self, versions_of: Callable[[CassandraStore, int, str], CassandraVersions]
    ) -> tuple[CassandraStore, str]:
        store = self.backend.cassandra
        assert store is not None
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
    """Each contract test runs once per adapter; only the backend it needs is started."""
    if request.param == "redis":
        return Backend("redis", redis=request.getfixturevalue("redis"))
    return Backend("cassandra", cassandra=request.getfixturevalue("cassandra_store"))


@pytest.fixture
async def stores(backend: Backend) -> AsyncIterator[Stores]:
    opened = Stores(backend)
    yield opened
    await opened.close()
