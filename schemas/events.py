"""Python types of every event in the log, one frozen dataclass per Avro record.

Contract: each class here has the same name and fields as the newest `schemas/avro/<snake>.vN.avsc`;
`tests/unit/test_schema_evolution.py` proves it. Events are facts in the past tense; none carries
a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Variants:
    """Object keys of the immutable image variants."""

    thumbnail: str
    feed: str
    full: str


@dataclass(frozen=True, slots=True)
class Mention:
    """An @username in a text, resolved to a user when the text was written (offsets in code
    points: the username is text[start + 1:end])."""

    user_id: int
    start: int
    end: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every event carries: its Snowflake id (idempotency key, version), time and actor."""

    event_id: int
    occurred_at: datetime
    actor_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRegistered(Event):
    username: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserAvatarChanged(Event):
    avatar_url: str | None = None
    avatar_keys: tuple[str, ...] = ()  # v2: object keys of the 64, 150 and 320 px squares


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileUpdated(Event):
    display_name: str | None = None  # None: unchanged; "": cleared
    bio: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPrivacyChanged(Event):
    private: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class UserFollowed(Event):
    followee_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUnfollowed(Event):
    followee_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowRequested(Event):
    followee_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowRequestResolved(Event):
    requester_id: int
    approved: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class UserBlocked(Event):
    blocked_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUnblocked(Event):
    blocked_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMuted(Event):
    muted_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUnmuted(Event):
    muted_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CelebrityFlagged(Event):
    follower_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotoUploaded(Event):
    photo_id: int
    object_key: str
    content_type: str
    size_bytes: int
    caption: str
    tags: tuple[str, ...]
    location: Location | None = None
    alt_text: str | None = None
    sealed_location: str | None = None  # v2: the location, sealed (then `location` is None)
    object_etag: str | None = None  # v3: the original's ETag when `complete` checked it
    purpose: str = "post"  # v4: "post" | "avatar"
    mentions: tuple[Mention, ...] = ()  # v4: @username mentions in the caption


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotoProcessed(Event):
    photo_id: int
    content_sha256: str
    variants: Variants
    width: int
    height: int
    blurhash: str
    phash: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotoRejected(Event):
    photo_id: int
    reason_code: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PostPublished(Event):
    post_id: int
    photo_id: int
    caption: str
    tags: tuple[str, ...]
    variants: Variants
    width: int
    height: int
    blurhash: str
    alt_text: str | None = None
    location: Location | None = None
    sealed_location: str | None = None  # v2: the location, sealed (then `location` is None)
    mentions: tuple[Mention, ...] = ()  # v3: @username mentions in the caption


@dataclass(frozen=True, slots=True, kw_only=True)
class PostDeleted(Event):
    post_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PostLiked(Event):
    post_id: int
    author_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PostUnliked(Event):
    post_id: int
    author_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentAdded(Event):
    comment_id: int
    post_id: int
    author_id: int
    text: str
    mentions: tuple[Mention, ...] = ()  # v2: @username mentions in the text


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentDeleted(Event):
    comment_id: int
    post_id: int
    author_id: int
    commenter_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationsRead(Event):
    up_to_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountErasureRequested(Event):
    pass


EVENT_TYPES: tuple[type[Event], ...] = (
    UserRegistered,
    UserAvatarChanged,
    ProfileUpdated,
    AccountPrivacyChanged,
    UserFollowed,
    UserUnfollowed,
    FollowRequested,
    FollowRequestResolved,
    UserBlocked,
    UserUnblocked,
    UserMuted,
    UserUnmuted,
    CelebrityFlagged,
    PhotoUploaded,
    PhotoProcessed,
    PhotoRejected,
    PostPublished,
    PostDeleted,
    PostLiked,
    PostUnliked,
    CommentAdded,
    CommentDeleted,
    NotificationsRead,
    AccountErasureRequested,
)
