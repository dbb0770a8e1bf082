"""What the gateway's routes need, built once by the composition root and kept on app.state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import structlog

from gateway.accounts import AccountStore
from gateway.passwords import PasswordPool
from gateway.ratelimit import Limits, RateLimiter
from gateway.sessions import RedisSessions
from gateway.tokens import TokenSigner
from gateway.uploads import UploadStore
from infra.event_log import EventLog
from infra.objectstore import S3Store
from infra.settings import Settings
from projections.engagement.ports import EngagementStore
from projections.feeds.ports import FeedStore
from projections.graph.ports import GraphViews
from projections.groups import Group
from projections.pages.redis import RedisPages
from projections.photos.ports import PhotoReader
from projections.search.ports import SearchIndex
from projections.versions.ports import VersionRegistry
from schemas.ids import SnowflakeGenerator

if TYPE_CHECKING:  # these modules read deps through gateway.auth
    from gateway.consistency import Consistency
    from gateway.health import Readiness
    from gateway.idempotency import Idempotency

T = TypeVar("T")
ACTIVE_VERSION_TTL_S = 1.0  # a swap reaches every gateway within this; old versions live longer


async def _logged(work: Coroutine[Any, Any, Any]) -> None:
    try:
        await work
    except Exception:
        structlog.get_logger("photofeed.gateway").exception("background_task_failed")


@dataclass
class GatewayDeps:
    settings: Settings
    log: EventLog
    accounts: AccountStore
    tokens: TokenSigner
    ids: SnowflakeGenerator
    versions: VersionRegistry
    graph_at: Callable[[int], GraphViews]  # projection version -> reader
    photos_at: Callable[[int], PhotoReader]
    feeds_at: Callable[[int], FeedStore]
    engagement_at: Callable[[int], EngagementStore]
    search_at: Callable[[int], SearchIndex]
    uploads: UploadStore
    store: S3Store
    upload_limit: RateLimiter
    sessions: RedisSessions  # is a token's session still standing (one round trip)
    passwords: PasswordPool  # argon2 off the event loop, bounded: 503 when full
    limits: Limits  # logins, registrations, follows, likes, comments
    clock: Callable[[], float] = time.time
    readiness: Readiness | None = None  # /readyz's checks; None: nothing to check
    idempotency: Idempotency | None = None  # None: Idempotency-Key is ignored
    consistency: Consistency | None = None  # None: Photofeed-Position is not waited on
    # (graph, feeds, engagement versions) -> one-call pages; None: a store is not Valkey
    pages_at: Callable[[int, int, int], RedisPages | None] = lambda *_: None
    url_base: bytes = b""  # what a post card's URL placeholder becomes (projections/feeds/cards.py)
    _adapters: dict[tuple[str, Any], Any] = field(default_factory=dict)
    _active: dict[str, tuple[float, int]] = field(default_factory=dict)
    _reading: dict[str, asyncio.Future[int]] = field(default_factory=dict)  # refreshes running
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def now(self) -> datetime:
        """The time a command's event occurred at."""
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` after the response; failures are logged, never raised to a request."""
        task = asyncio.create_task(_logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def graph(self) -> GraphViews:
        """The reader of the active graph version (cached for ACTIVE_VERSION_TTL_S)."""
        v = await self._active_version(Group.GRAPH)
        return self._adapter((Group.GRAPH, v), lambda: self.graph_at(v))

    async def feeds(self) -> FeedStore:
        """The reader of the active feeds version (posts, timelines, home feeds)."""
        v = await self._active_version(Group.FEEDS)
        return self._adapter((Group.FEEDS, v), lambda: self.feeds_at(v))

    async def engagement(self) -> EngagementStore:
        """The reader of the active engagement version (likes, comments, notifications)."""
        v = await self._active_version(Group.ENGAGEMENT)
        return self._adapter((Group.ENGAGEMENT, v), lambda: self.engagement_at(v))

    async def search(self) -> SearchIndex:
        """The active version of the search index."""
        return self.search_at(await self._active_version(Group.SEARCH))

    async def photos(self) -> PhotoReader:
        """The reader of the active photos version."""
        v = await self._active_version(Group.PHOTOS)
        return self._adapter((Group.PHOTOS, v), lambda: self.photos_at(v))

    async def pages(self) -> RedisPages | None:
        """One-call pages over the active graph, feeds and engagement versions; None when one
        of them is not kept in Valkey (the routes then read through the per-group readers)."""
        versions = (
            await self._active_version(Group.GRAPH),
            await self._active_version(Group.FEEDS),
            await self._active_version(Group.ENGAGEMENT),
        )
        return self._adapter(("pages", versions), lambda: self.pages_at(*versions))

    def _adapter(self, key: tuple[str, Any], build: Callable[[], T]) -> T:
        """Adapters are built once per process and version (they register their scripts);
        retired versions' adapters are dropped when a group swaps."""
        found = self._adapters.get(key)
        if found is None:
            for old in [k for k in self._adapters if k[0] == key[0]]:
                del self._adapters[old]
            found = self._adapters[key] = build()
        return cast(T, found)

    async def _active_version(self, group: Group) -> int:
        """Cached for ACTIVE_VERSION_TTL_S; when it runs out, one read refreshes it for every
        request that needs it meanwhile (not one Valkey read per request in flight)."""
        now = time.monotonic()
        cached = self._active.get(group)
        if cached is not None and now - cached[0] < ACTIVE_VERSION_TTL_S:
            return cached[1]
        read = self._reading.get(group)
        if read is None:
            read = self._reading[group] = asyncio.ensure_future(self.versions.active(group))
            read.add_done_callback(lambda _: self._reading.pop(group, None))
        version = await asyncio.shield(read)  # a caller cancelled leaves the read to the others
        self._active[group] = (now, version)
        return version
