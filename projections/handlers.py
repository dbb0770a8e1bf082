"""The single HANDLERS registry: event type -> pure function returning the writes it implies.

Faust agents and `photofeed replay` both use this registry, so a rebuild performs exactly the
writes the live pipeline performed. Handlers do no I/O and never fail on a well-formed event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.writes import PutUser, SetAvatar, SetFollow, Write
from schemas import events as ev

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def _ms(event: ev.Event) -> int:
    """Unix milliseconds of the event, exactly (float timestamps lose the last millisecond)."""
    return (event.occurred_at - _UNIX_EPOCH) // _ONE_MS


def on_user_registered(e: ev.UserRegistered) -> list[Write]:
    return [PutUser(e.actor_id, e.username, _ms(e), e.event_id)]


def on_avatar_changed(e: ev.UserAvatarChanged) -> list[Write]:
    return [SetAvatar(e.actor_id, e.avatar_url, e.event_id)]


def on_followed(e: ev.UserFollowed) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []  # the gateway refuses self-follows; an old or foreign one is ignored
    return [SetFollow(e.actor_id, e.followee_id, _ms(e), True, e.event_id)]


def on_unfollowed(e: ev.UserUnfollowed) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []
    return [SetFollow(e.actor_id, e.followee_id, _ms(e), False, e.event_id)]


Handler = Callable[[Any], list[Write]]

# projection group -> {event type -> handler}; a group is rebuilt and swapped as one unit
HANDLERS: dict[str, dict[type[ev.Event], Handler]] = {
    "graph": {
        ev.UserRegistered: on_user_registered,
        ev.UserAvatarChanged: on_avatar_changed,
        ev.UserFollowed: on_followed,
        ev.UserUnfollowed: on_unfollowed,
    },
}


def writes_for(group: str, events: Sequence[ev.Event]) -> list[Write]:
    """All writes of one projection group for a batch of events, in event order."""
    table = HANDLERS[group]
    out: list[Write] = []
    for event in events:
        handler = table.get(type(event))
        if handler is not None:
            out.extend(handler(event))
    return out
