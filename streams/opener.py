"""Opens sealed personal data after decoding, and makes erased users disappear.

Every consumer that builds projections (the agents and `photofeed replay`) passes decoded batches
through here: an event of an erased user — or a follow of one, or the deletion of their comment —
is dropped, so live projections and any later replay agree that the user never existed; every
other event comes out with its personal fields opened. The erasure request itself passes: it is
what drives the erasure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import structlog

from schemas import events as ev
from schemas.sealing import Unreadable, has_personal_data, open_event

log = structlog.get_logger("photofeed.opener")


class ErasedUsers(Protocol):
    """Which of some users were erased (infra/keystore.py RedisKeyStore): what the opener, the
    media agent and the engagement planner (no notices to the erased) ask."""

    async def erased(self, user_ids: Iterable[int]) -> set[int]: ...


class KeyStore(ErasedUsers, Protocol):
    """The data keys of live users, to open their sealed fields."""

    async def keys(self, user_ids: Iterable[int]) -> dict[int, bytes]: ...


def people_of(event: ev.Event) -> set[int]:
    """The users an event is about, whose erasure removes it. A comment's deletion is about the
    commenter, whoever deleted it: a post author's deletion of someone else's comment outlives
    the author's erasure (the comment stays deleted)."""
    if isinstance(event, ev.CommentDeleted):
        return {event.commenter_id}
    people = {event.actor_id}
    if isinstance(event, ev.UserFollowed | ev.UserUnfollowed | ev.FollowRequested):
        people.add(event.followee_id)
    elif isinstance(event, ev.FollowRequestResolved):
        people.add(event.requester_id)
    elif isinstance(event, ev.UserBlocked | ev.UserUnblocked):
        people.add(event.blocked_id)
    elif isinstance(event, ev.UserMuted | ev.UserUnmuted):
        people.add(event.muted_id)
    return people


class Opener:
    def __init__(self, keys: KeyStore, *, strict: bool = False) -> None:
        """`strict`: an event whose seal does not open raises `Unreadable` (the live agents
        dead-letter it); otherwise it is dropped with a warning (replay: the live agent set it
        aside, so the rebuild must not see it either)."""
        self._keys = keys
        self._strict = strict

    async def open(self, events: Sequence[ev.Event]) -> list[ev.Event]:
        if not events:
            return []
        erased = await self._keys.erased({p for e in events for p in people_of(e)})
        owners = {e.actor_id for e in events if has_personal_data(e)} - erased
        keys = await self._keys.keys(owners)
        out: list[ev.Event] = []
        for e in events:
            if isinstance(e, ev.AccountErasureRequested):
                out.append(e)
            elif not people_of(e) & erased:
                opened = self._opened(e, keys.get(e.actor_id))
                if opened is not None:
                    out.append(opened)
        return out

    def _opened(self, event: ev.Event, key: bytes | None) -> ev.Event | None:
        if not has_personal_data(event):
            return event
        try:
            return open_event(event, key or b"\0" * 32)  # no key: only plaintext can open
        except Unreadable:
            if self._strict:
                raise
            log.warning("unreadable_event", type=type(event).__name__, event_id=event.event_id)
            return None
