"""The topic catalogue: every topic, its key, partitions, retention and the events it carries.

This module is the single source for `photofeed topics create`, the Faust topic declarations and
the catalogue table in README.md (a test keeps the README in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas import events as ev

KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    key_field: str  # the event field whose decimal string is the message key; keeps entity order
    events: tuple[type[ev.Event], ...]
    partitions: int = 6
    config: dict[str, str] = field(default_factory=lambda: dict(KEEP_FOREVER))
    doc: str = ""


USERS = TopicSpec(
    "photofeed.users",
    "actor_id",
    (
        ev.UserRegistered,
        ev.UserAvatarChanged,
        ev.ProfileUpdated,
        ev.AccountPrivacyChanged,
        ev.CelebrityFlagged,
        ev.NotificationsRead,
        ev.AccountErasureRequested,
    ),
    doc="account lifecycle",
)
FOLLOWS = TopicSpec(
    "photofeed.follows",
    "actor_id",
    (
        ev.UserFollowed,
        ev.UserUnfollowed,
        ev.FollowRequested,
        ev.FollowRequestResolved,
        ev.UserBlocked,
        ev.UserUnblocked,
        ev.UserMuted,
        ev.UserUnmuted,
    ),
    doc="the follow graph, follow requests, blocks and mutes; one actor's edges stay in order",
)
PHOTOS = TopicSpec(
    "photofeed.photos",
    "photo_id",
    (ev.PhotoUploaded, ev.PhotoProcessed, ev.PhotoRejected),
    doc="upload and media processing",
)
POSTS = TopicSpec(
    "photofeed.posts",
    "actor_id",
    (ev.PostPublished, ev.PostDeleted),
    doc="publications; one author's posts stay in order",
)
ENGAGEMENT = TopicSpec(
    "photofeed.engagement",
    "post_id",
    (ev.PostLiked, ev.PostUnliked, ev.CommentAdded, ev.CommentDeleted),
    doc="likes and comments; one post's engagement stays in order",
)
DEAD_LETTER = TopicSpec(
    "photofeed.deadletter",
    "",
    (),
    partitions=1,
    config={"retention.ms": str(30 * 24 * 3600 * 1000), "cleanup.policy": "delete"},
    doc="messages an agent could not decode; headers carry the source and the error",
)

CATALOGUE: tuple[TopicSpec, ...] = (USERS, FOLLOWS, PHOTOS, POSTS, ENGAGEMENT, DEAD_LETTER)


def topic_of(event_type: type[ev.Event]) -> TopicSpec:
    """The one topic an event type is appended to."""
    for spec in CATALOGUE:
        if event_type in spec.events:
            return spec
    raise KeyError(f"{event_type.__name__} has no topic in the catalogue")


def key_of(event: ev.Event) -> bytes:
    """The message key for an event, as its topic's `key` column describes."""
    return str(getattr(event, topic_of(type(event)).key_field)).encode()


def catalogue_markdown() -> str:
    """The catalogue as the Markdown table README.md carries."""
    rows = [
        "| topic | key | partitions | retention | events | purpose |",
        "|---|---|---|---|---|---|",
    ]
    for t in CATALOGUE:
        ms = int(t.config.get("retention.ms", "-1"))
        retention = "forever" if ms < 0 else f"{ms / 86_400_000:g} days"
        names = ", ".join(f"`{e.__name__}`" for e in t.events) or "(any, raw)"
        key = f"`{t.key_field}`" if t.key_field else "original key"
        rows.append(f"| `{t.name}` | {key} | {t.partitions} | {retention} | {names} | {t.doc} |")
    return "\n".join(rows)
