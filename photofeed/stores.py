"""Which store serves each projection group, chosen by settings (part of the composition root).

Embedded default: every group in Valkey, search in SQLite FTS5. `PHOTOFEED_ELASTICSEARCH_URL`
moves search to Elasticsearch; `PHOTOFEED_CASSANDRA_HOSTS` moves the durable projections — users
and the follow graph, posts and author timelines, comments and notifications — to Cassandra,
while home feeds, the celebrity set and engagement counters stay in Valkey (projections/composite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from infra.clients import make_redis
from infra.settings import Settings
from projections.backends.composite import (
    CombinedAdmin,
    EngagementViews,
    FeedViews,
    PreparedWriter,
    SplitWriter,
)
from projections.engagement.keys import EngagementKeys
from projections.engagement.ports import EngagementStore
from projections.engagement.redis import RedisEngagement
from projections.feeds.keys import FeedKeys
from projections.feeds.ports import FeedStore
from projections.feeds.redis import RedisFeeds
from projections.graph.keys import GraphKeys
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.pages.redis import RedisPages
from projections.photos.keys import PhotoKeys
from projections.photos.redis import RedisPhotos
from projections.ports import ProjectionWriter
from projections.search.ports import SearchVersions
from projections.search.sqlite import SqliteSearchVersions
from projections.versions.ports import VersionAdmin
from projections.versions.redis_admin import RedisVersionAdmin
from projections.writes import (
    FeedAdd,
    FeedRemove,
    MarkCelebrity,
    PutPost,
    SetPostTags,
    SetTimeline,
)

if TYPE_CHECKING:  # the Cassandra driver is imported only when Cassandra is configured
    from projections.backends.cassandra import CassandraStore, CassandraVersions
    from projections.engagement.cassandra import CassandraEngagement
    from projections.feeds.cassandra import CassandraPosts
    from projections.graph.cassandra import CassandraGraph


@dataclass(frozen=True)
class Cassandra:
    """The Cassandra session and the keyspace versions of the groups it serves."""

    store: CassandraStore
    graph: CassandraVersions
    posts: CassandraVersions
    engagement: CassandraVersions

    def graph_at(self, version: int) -> CassandraGraph:
        from projections.graph.cassandra import CassandraGraph

        return CassandraGraph(self.store, self.graph.keyspace(version))

    def posts_at(self, version: int) -> CassandraPosts:
        from projections.feeds.cassandra import CassandraPosts

        return CassandraPosts(self.store, self.posts.keyspace(version))

    def engagement_at(self, version: int) -> CassandraEngagement:
        from projections.engagement.cassandra import CassandraEngagement

        return CassandraEngagement(self.store, self.engagement.keyspace(version))


@dataclass(frozen=True)
class Stores:
    """The projection stores of one process: Valkey, the search index's versions, and
    Cassandra when configured."""

    redis: Redis
    search: SearchVersions
    cassandra: Cassandra | None = None

    def graph_at(self, version: int) -> RedisGraph | CassandraGraph:
        """The users/graph reader of a version (UserReader + GraphReader)."""
        if self.cassandra is not None:
            return self.cassandra.graph_at(version)
        return RedisGraph(self.redis, version)

    def feeds_at(self, version: int) -> FeedStore:
        if self.cassandra is not None:
            return FeedViews(RedisFeeds(self.redis, version), self.cassandra.posts_at(version))
        return RedisFeeds(self.redis, version)

    def photos_at(self, version: int) -> RedisPhotos:
        """The photos group (upload status, content index) is always in Valkey."""
        return RedisPhotos(self.redis, version)

    def pages_at(self, graph: int, feeds: int, engagement: int) -> RedisPages | None:
        """One-call pages (projections/pages/pages.lua) when every group they read is in Valkey."""
        if self.cassandra is not None:
            return None
        return RedisPages(self.redis, graph, feeds, engagement)

    def engagement_at(self, version: int) -> EngagementStore:
        hot = RedisEngagement(self.redis, version)
        if self.cassandra is not None:
            return EngagementViews(hot, self.cassandra.engagement_at(version))
        return hot


def make_stores(settings: Settings) -> Stores:
    return Stores(make_redis(settings), search_versions(settings), cassandra(settings))


def search_versions(settings: Settings) -> SearchVersions:
    """Elasticsearch when PHOTOFEED_ELASTICSEARCH_URL is set, else SQLite FTS5 under data_dir."""
    if settings.elasticsearch_url:
        from projections.search.elasticsearch import ElasticsearchVersions

        versions: SearchVersions = ElasticsearchVersions.connect(
            settings.elasticsearch_url, refresh=False
        )
        return versions
    return SqliteSearchVersions(settings.data_dir)


def cassandra(settings: Settings) -> Cassandra | None:
    """A session on PHOTOFEED_CASSANDRA_HOSTS (connected now: once per process), or None."""
    if not settings.cassandra_hosts:
        return None
    from projections.backends.cassandra import CassandraStore, new_cluster
    from projections.engagement import cassandra as cassandra_engagement
    from projections.feeds import cassandra as cassandra_posts
    from projections.graph import cassandra as cassandra_graph

    cluster = new_cluster(settings.cassandra_hosts)
    store = CassandraStore(cluster, cluster.connect())
    rf = settings.cassandra_replication
    return Cassandra(
        store, cassandra_graph.versions(store, rf), cassandra_posts.versions(store, rf),
        cassandra_engagement.versions(store, rf),
    )  # fmt: skip


def writer_factory(stores: Stores, group: Group) -> Callable[[int], ProjectionWriter]:
    """version -> the writer of that version of `group`."""
    redis, cass = stores.redis, stores.cassandra
    factories: dict[str, Callable[[int], ProjectionWriter]] = {
        Group.GRAPH: lambda v: RedisGraph(redis, v),
        Group.PHOTOS: stores.photos_at,
        Group.FEEDS: lambda v: RedisFeeds(redis, v),
        Group.ENGAGEMENT: lambda v: RedisEngagement(redis, v),
        Group.SEARCH: stores.search.at,
    }
    if cass is not None:
        factories[Group.GRAPH] = lambda v: PreparedWriter(cass.graph, v, cass.graph_at(v))
        factories[Group.FEEDS] = lambda v: SplitWriter([
            ((PutPost, SetTimeline), PreparedWriter(cass.posts, v, cass.posts_at(v))),
            ((FeedAdd, FeedRemove, MarkCelebrity, SetPostTags), RedisFeeds(redis, v)),
        ])  # fmt: skip
        # counters in Valkey, the rest in both
        factories[Group.ENGAGEMENT] = lambda v: SplitWriter([
            (None, RedisEngagement(redis, v)),
            (None, PreparedWriter(cass.engagement, v, cass.engagement_at(v))),
        ])  # fmt: skip
    return factories[group]


def version_admin(stores: Stores, group: Group) -> VersionAdmin:
    redis, cass = stores.redis, stores.cassandra
    if group == Group.SEARCH:
        return stores.search
    if group == Group.FEEDS:  # home feeds are a cache of timelines; the property test proves reads
        feeds = RedisVersionAdmin(redis, lambda v: FeedKeys(v).prefix, FeedKeys.CACHE_SUFFIXES)
        return feeds if cass is None else CombinedAdmin(feeds, cass.posts)
    if group == Group.GRAPH and cass is not None:
        admin: VersionAdmin = cass.graph
        return admin
    prefixes: dict[str, Callable[[int], str]] = {
        Group.GRAPH: lambda v: GraphKeys(v).prefix,
        Group.PHOTOS: lambda v: PhotoKeys(v).prefix,
        Group.ENGAGEMENT: lambda v: EngagementKeys(v).prefix,
    }
    redis_admin = RedisVersionAdmin(redis, prefixes[group])
    if group == Group.ENGAGEMENT and cass is not None:
        return CombinedAdmin(redis_admin, cass.engagement)
    return redis_admin
