"""Projection groups split across two stores: hot state in Redis, durable state in Cassandra.

With `PHOTOFEED_CASSANDRA_HOSTS` set, posts, timelines, the follow graph, comments and
notifications live in Cassandra; home feeds, the celebrity set and engagement counters stay in
Redis. These wrappers keep the rest of the code unaware of the split: a writer that routes each
write to the stores owning it, readers that ask the right store, and a version admin over both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from projections.engagement.ports import (
    CommentReader,
    CommentView,
    NoticePage,
    NotificationReader,
    PostStats,
)
from projections.engagement.redis import RedisEngagement
from projections.feeds.ports import FeedState, PostReader, PostView
from projections.feeds.redis import RedisFeeds
from projections.ports import Position, ProjectionWriter
from projections.versions.ports import VersionAdmin
from projections.writes import Write


class Preparable(Protocol):
    async def prepare(self, version: int) -> str: ...


class SplitWriter:
    """Hands each writer the writes of the types it owns (None: all), in order."""

    def __init__(self, routes: Sequence[tuple[tuple[type, ...] | None, ProjectionWriter]]) -> None:
        self._routes = routes

    async def apply(self, writes: Sequence[Write]) -> None:
        for types, writer in self._routes:
            mine = list(writes) if types is None else [w for w in writes if isinstance(w, types)]
            if mine:
                await writer.apply(mine)


class PreparedWriter:
    """Creates the version's keyspace (idempotent DDL) before its first write."""

    def __init__(self, versions: Preparable, version: int, writer: ProjectionWriter) -> None:
        self._versions = versions
        self._version = version
        self._writer = writer
        self._ready = False

    async def apply(self, writes: Sequence[Write]) -> None:
        if not self._ready:
            await self._versions.prepare(self._version)
            self._ready = True
        await self._writer.apply(writes)


class CombinedAdmin:
    """One projection group's versions in several stores, compared and dropped together."""

    def __init__(self, *parts: VersionAdmin) -> None:
        self._parts = parts

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]:
        total, sample = 0, list[str]()
        for part in self._parts:
            count, keys = await part.diff(a, b, limit)
            total, sample = total + count, sample + keys
        return total, sample[:limit]

    async def drop(self, version: int) -> int:
        return sum([await part.drop(version) for part in self._parts])

    async def activate(self, version: int) -> None:
        for part in self._parts:
            await part.activate(version)


class FeedViews:
    """Home feeds, tag timelines and celebrities from Redis; posts and author timelines from the
    durable store."""

    def __init__(self, hot: RedisFeeds, durable: PostReader) -> None:
        self.hot = hot
        self.durable = durable
        self.keys = hot.keys
        self.max_feed = hot.max_feed

    async def posts(self, ids: Sequence[int]) -> dict[int, PostView]:
        return await self.durable.posts(ids)

    async def timeline_page(
        self, author_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        return await self.durable.timeline_page(author_id, limit, after)

    async def timeline_pages(
        self, authors: Sequence[int], limit: int, after: Position | None
    ) -> dict[int, list[tuple[int, int]]]:
        return await self.durable.timeline_pages(authors, limit, after)

    async def post_counts(self, authors: Sequence[int]) -> dict[int, int]:
        return await self.durable.post_counts(authors)

    async def celebrities(self) -> set[int]:
        return await self.hot.celebrities()

    async def feed_state(self, user_id: int) -> FeedState:
        return await self.hot.feed_state(user_id)

    async def feed_page(
        self, user_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        return await self.hot.feed_page(user_id, limit, after)

    async def fill_feed(self, user_id: int, rows: Sequence[tuple[int, int]]) -> None:
        await self.hot.fill_feed(user_id, rows)

    async def tag_page(self, tag: str, limit: int, after: Position | None) -> list[tuple[int, int]]:
        return await self.hot.tag_page(tag, limit, after)  # tag timelines live in Redis


class DurableEngagement(CommentReader, NotificationReader, Protocol):
    """Comments and notifications in the durable store."""


class EngagementViews:
    """Counts and the viewer's likes from Redis; comments and notifications from the durable
    store."""

    def __init__(self, hot: RedisEngagement, durable: DurableEngagement) -> None:
        self.hot = hot
        self.durable = durable

    async def stats(self, post_ids: Sequence[int], viewer: int | None) -> dict[int, PostStats]:
        return await self.hot.stats(post_ids, viewer)

    async def comment(self, comment_id: int) -> CommentView | None:
        return await self.durable.comment(comment_id)

    async def comments_by_id(self, ids: Sequence[int]) -> dict[int, CommentView]:
        return await self.durable.comments_by_id(ids)

    async def comments(
        self, post_id: int, limit: int, after: Position | None
    ) -> tuple[list[CommentView], Position | None]:
        return await self.durable.comments(post_id, limit, after)

    async def notifications(
        self, user_id: int, limit: int, after: tuple[int, str] | None
    ) -> NoticePage:
        return await self.durable.notifications(user_id, limit, after)
