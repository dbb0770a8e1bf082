"""The single HANDLERS registry: event type -> pure function returning the writes it implies.

Faust agents and `photofeed replay` both use this registry, so a rebuild performs exactly the
writes the live pipeline performed. Handlers do no I/O and never fail on a well-formed event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from projections.engagement import ENGAGEMENT_HANDLERS
from projections.event_time import event_ms
from projections.search import SEARCH_HANDLERS
from projections.writes import (
    MarkCelebrity,
    PutContent,
    PutUser,
    ReleasePhoto,
    SetAvatar,
    SetFollow,
    SetPhoto,
    Write,
)
from schemas import events as ev
from schemas.media import content_of


def on_user_registered(e: ev.UserRegistered) -> list[Write]:
    return [PutUser(e.actor_id, e.username, event_ms(e), e.event_id)]


def on_avatar_changed(e: ev.UserAvatarChanged) -> list[Write]:
    return [SetAvatar(e.actor_id, e.avatar_url, e.event_id)]


def on_followed(e: ev.UserFollowed) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []  # the gateway refuses self-follows; an old or foreign one is ignored
    return [SetFollow(e.actor_id, e.followee_id, event_ms(e), True, e.event_id)]


def on_unfollowed(e: ev.UserUnfollowed) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []
    return [SetFollow(e.actor_id, e.followee_id, event_ms(e), False, e.event_id)]


def on_celebrity_flagged(e: ev.CelebrityFlagged) -> list[Write]:
    return [MarkCelebrity(e.actor_id)]  # followers then merge the user's posts at read time


def _variant_fields(v: ev.Variants) -> list[tuple[str, str]]:
    return [("thumbnail", v.thumbnail), ("feed", v.feed), ("full", v.full)]


def on_photo_uploaded(e: ev.PhotoUploaded) -> list[Write]:
    return [SetPhoto(e.photo_id, e.actor_id, "processing", e.event_id)]


def on_photo_processed(e: ev.PhotoProcessed) -> list[Write]:
    image = [("width", str(e.width)), ("height", str(e.height)), ("blurhash", e.blurhash)]
    return [
        SetPhoto(e.photo_id, e.actor_id, "processing", e.event_id,
                 (*_variant_fields(e.variants), *image, ("sha256", e.content_sha256))),
        PutContent(e.content_sha256, e.photo_id,
                   (*_variant_fields(e.variants), *image, ("phash", str(e.phash))), e.event_id),
    ]  # fmt: skip


def on_photo_rejected(e: ev.PhotoRejected) -> list[Write]:
    fields = (("reason_code", e.reason_code), ("reason", e.reason))
    return [SetPhoto(e.photo_id, e.actor_id, "rejected", e.event_id, fields)]


def on_post_published(e: ev.PostPublished) -> list[Write]:
    fields = (
        *_variant_fields(e.variants), ("width", str(e.width)), ("height", str(e.height)),
        ("blurhash", e.blurhash), ("post_id", str(e.post_id)), ("published_ms", str(event_ms(e))),
        *((("sha256", sha),) if (sha := content_of(e.variants.feed)) else ()),
    )  # fmt: skip
    return [SetPhoto(e.photo_id, e.actor_id, "published", e.event_id, fields)]


def on_post_deleted(e: ev.PostDeleted) -> list[Write]:
    return [ReleasePhoto(e.post_id, e.event_id)]  # post id = photo id


Handler = Callable[[Any], list[Write]]

# projection group -> {event type -> handler}; a group is rebuilt and swapped as one unit
HANDLERS: dict[str, dict[type[ev.Event], Handler]] = {
    "graph": {
        ev.UserRegistered: on_user_registered,
        ev.UserAvatarChanged: on_avatar_changed,
        ev.UserFollowed: on_followed,
        ev.UserUnfollowed: on_unfollowed,
        ev.CelebrityFlagged: on_celebrity_flagged,
    },
    "photos": {
        ev.PhotoUploaded: on_photo_uploaded,
        ev.PhotoProcessed: on_photo_processed,
        ev.PhotoRejected: on_photo_rejected,
        ev.PostPublished: on_post_published,
        ev.PostDeleted: on_post_deleted,
    },
    "engagement": ENGAGEMENT_HANDLERS,  # likes, comments, notifications: projections.engagement
    "search": SEARCH_HANDLERS,  # captions, tags, usernames: projections.search
}


def group_events() -> dict[str, frozenset[type[ev.Event]]]:
    """Every projection group and the event types it consumes (including the feeds group,
    whose handlers need facts and live in projections.feeds)."""
    from projections.feeds import FEED_EVENTS

    groups = {g: frozenset(table) for g, table in HANDLERS.items()}
    return {**groups, "feeds": FEED_EVENTS}


def writes_for(group: str, events: Sequence[ev.Event]) -> list[Write]:
    """All writes of one projection group for a batch of events, in event order."""
    table = HANDLERS[group]
    out: list[Write] = []
    for event in events:
        handler = table.get(type(event))
        if handler is not None:
            out.extend(handler(event))
    return out
