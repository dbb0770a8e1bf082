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


# the other user an event of these types is about, beside its actor (a field name)
_OTHER_PARTY: dict[type[ev.Event], str] = {
    ev.UserFollowed: "followee_id", ev.UserUnfollowed: "followee_id",
    ev.FollowRequested: "followee_id", ev.FollowRequestResolved: "requester_id",
    ev.UserBlocked: "blocked_id", ev.UserUnblocked: "blocked_id",
    ev.UserMuted: "muted_id", ev.UserUnmuted: "muted_id",
}  # fmt: skip


def people_of(event: ev.Event) -> set[int]:
    """The users an event is about, whose erasure removes it. A comment's deletion is about the
    commenter, whoever deleted it: a post author's deletion of someone else's comment outlives
    the author's erasure (the comment stays deleted). (Event types are final: looked up by
    type, which costs a dict lookup where isinstance over unions cost ~1 us each.)"""
    kind = type(event)
    if kind is ev.CommentDeleted:
        return {event.commenter_id}  # type: ignore[attr-defined]
    other = _OTHER_PARTY.get(kind)
    return {event.actor_id} if other is None else {event.actor_id, getattr(event, other)}


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
        people = [people_of(e) for e in events]
        erased = await self._keys.erased(set().union(*people))
        owners = {e.actor_id for e in events if has_personal_data(e)} - erased
        keys = await self._keys.keys(owners)
        out: list[ev.Event] = []
        for e, about in zip(events, people, strict=True):
            if isinstance(e, ev.AccountErasureRequested):
                out.append(e)
            elif not (erased and about & erased):
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
