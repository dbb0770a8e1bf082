"""What the gateway's routes need, built once by the composition root and kept on app.state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from gateway.accounts import AccountStore
from gateway.passwords import PasswordPool
from gateway.ratelimit import Limits, RateLimiter
from gateway.sessions import RedisSessions
from gateway.tokens import TokenSigner
from gateway.uploads import UploadStore
from infra.objectstore import S3Store
from infra.settings import Settings
from projections.ports import (
    EngagementStore,
    FeedStore,
    GraphReader,
    SearchIndex,
    UserReader,
    VersionRegistry,
)
from projections.redis_photos import RedisPhotos
from schemas.events import Event
from schemas.ids import SnowflakeGenerator

if TYPE_CHECKING:  # both modules read deps through gateway.auth
    from gateway.health import Readiness
    from gateway.idempotency import Idempotency

ACTIVE_VERSION_TTL_S = 1.0  # a swap reaches every gateway within this; old versions live longer


class EventLog(Protocol):
    """Appends events durably (acks=all) and in order; raises infra.kafka.AppendError when the
    log does not acknowledge in time (the gateway answers 503 log_unavailable)."""

    async def append(self, *events: Event) -> None: ...


class GraphViews(UserReader, GraphReader, Protocol):
    """One version of the users/graph projection group."""


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
    photos_at: Callable[[int], RedisPhotos]
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
    _active: dict[str, tuple[float, int]] = field(default_factory=dict)
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
        return self.graph_at(await self._active_version("graph"))

    async def feeds(self) -> FeedStore:
        """The reader of the active feeds version (posts, timelines, home feeds)."""
        return self.feeds_at(await self._active_version("feeds"))

    async def engagement(self) -> EngagementStore:
        """The reader of the active engagement version (likes, comments, notifications)."""
        return self.engagement_at(await self._active_version("engagement"))

    async def search(self) -> SearchIndex:
        """The active version of the search index."""
        return self.search_at(await self._active_version("search"))

    async def photos(self) -> RedisPhotos:
        """The reader of the active photos version."""
        return self.photos_at(await self._active_version("photos"))

    async def _active_version(self, group: str) -> int:
        now = time.monotonic()
        cached = self._active.get(group)
        if cached is not None and now - cached[0] < ACTIVE_VERSION_TTL_S:
            return cached[1]
        version = await self.versions.active(group)
        self._active[group] = (now, version)
        return version
