"""Derives the celebrity flag from the log: the first time an author's follower count reaches the
threshold, a `CelebrityFlagged` event is appended (one-way; a replay reproduces it from the log)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis

from infra.event_log import EventLog
from projections.graph.ports import GraphReader
from schemas import events as ev
from schemas.ids import SnowflakeGenerator
from streams.keys import CelebrityKeys


class CelebrityWatcher:
    def __init__(
        self,
        graph: Callable[[], Awaitable[GraphReader]],
        claim: Callable[[int], Awaitable[bool]],
        log: EventLog,
        ids: SnowflakeGenerator,
        threshold: int,
    ) -> None:
        """`claim(user)` is true exactly once per user (a marker), so the flag is appended once
        even with several workers; a duplicate would be harmless anyway."""
        self._graph = graph
        self._claim = claim
        self._log = log
        self._ids = ids
        self.threshold = threshold

    async def after_follows(self, events: Sequence[ev.Event]) -> None:
        followees = sorted({e.followee_id for e in events if isinstance(e, ev.UserFollowed)})
        if not followees:
            return
        counts = await (await self._graph()).counts(followees)
        for user, n in counts.items():
            if n.followers >= self.threshold and await self._claim(user):
                await self._log.append(
                    ev.CelebrityFlagged(
                        event_id=self._ids.next_id(),
                        occurred_at=datetime.now(tz=UTC),
                        actor_id=user,
                        follower_count=n.followers,
                    )
                )


class RedisClaims:
    """The watcher's `claim` in Valkey: a marker per user, set once (NX) by whichever worker
    gets there first."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def claim(self, user_id: int) -> bool:
        return bool(await self._r.set(CelebrityKeys.flagged(user_id), 1, nx=True))
