"""The writes projection handlers emit; adapters perform them.

Every write carries `seq`, the id of the event that caused it: an adapter applies a write to an
entity only when its seq is newer than the one it stored (the entity's `_v` field), so redelivered,
replayed or reordered events leave every read model unchanged. (A projection *version* is another
thing: the number of one build of a group, `graph.v2`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F")

SEQ_WIDTH = 19  # decimal digits of the largest Snowflake id (2**63 - 1)


def seq_key(event_id: int) -> str:
    """A seq that orders right as a string (Lua numbers are doubles, exact only to 2**53)."""
    return str(event_id).zfill(SEQ_WIDTH)


@dataclass(frozen=True, slots=True)
class PutUser:
    user_id: int
    username: str
    created_ms: int
    seq: int


@dataclass(frozen=True, slots=True)
class SetAvatar:
    """The user's avatar as of `seq`: the object keys of its squares (64, 150, 320 px), or a
    URL given as such (UserAvatarChanged v1); neither: no avatar."""

    user_id: int
    avatar_url: str | None
    seq: int
    avatar_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetProfile:
    """Profile fields as of `seq`, each guarded on its own (a change of the bio alone leaves a
    newer display name alone): None leaves a field as it is, "" clears it."""

    user_id: int
    display_name: str | None
    bio: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class SetFollow:
    """The edge follower -> followee exists (`active`) or not, as of `seq`."""

    follower_id: int
    followee_id: int
    at_ms: int
    active: bool
    seq: int


@dataclass(frozen=True, slots=True)
class SetFollowRequest:
    """One step of the follow request requester -> owner, as of `seq` (projections/graph/
    requests.py is the state machine): `kind` REQUEST (the requester asked), APPROVE / REJECT
    (the owner answered), or EDGE (the edge requester -> owner was written: an older request is
    closed, a pending one withdrawn; `at_ms` is the edge's score, 0 when it is absent)."""

    owner_id: int
    requester_id: int
    kind: str
    at_ms: int
    seq: int


@dataclass(frozen=True, slots=True)
class SetPrivacy:
    """The user made their account private (or public) at `seq`; going public approves every
    request still pending then."""

    user_id: int
    private: bool
    seq: int


@dataclass(frozen=True, slots=True)
class SetBlock:
    """`blocker` blocks `blocked` (or no longer does), as of `seq` (projections/graph/
    relations.py): kept on both sides, so either user's check is one lookup."""

    blocker_id: int
    blocked_id: int
    at_ms: int
    active: bool
    seq: int


@dataclass(frozen=True, slots=True)
class SetMute:
    """`muter` mutes `muted` (or no longer does), as of `seq`."""

    muter_id: int
    muted_id: int
    at_ms: int
    active: bool
    seq: int


@dataclass(frozen=True, slots=True)
class SetPhoto:
    """The photo's status and whatever else is known of it, as of `seq` (one version per
    photo: its events are ordered, and a later one carries everything an earlier one did)."""

    photo_id: int
    owner_id: int
    status: str  # processing | published | rejected
    seq: int
    fields: tuple[tuple[str, str], ...] = ()  # variants, width, height, blurhash, reason, ...


@dataclass(frozen=True, slots=True)
class PutContent:
    """Content-addressed media: what processing a byte-identical upload produced."""

    sha256: str
    photo_id: int  # a reference that keeps the variants alive
    fields: tuple[tuple[str, str], ...]  # variants, width, height, blurhash, phash
    seq: int  # same content always yields the same fields, so no guard is needed


@dataclass(frozen=True, slots=True)
class ReleasePhoto:
    """The photo's post was deleted: it no longer references its content (a tombstone)."""

    photo_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class PutPost:
    """A post's metadata (or its tombstone: fields ("deleted", "1")) as of `seq`."""

    post_id: int
    author_id: int
    fields: tuple[tuple[str, str], ...]
    seq: int


@dataclass(frozen=True, slots=True)
class SetTimeline:
    """The post is (or is no longer) in its author's timeline, as of `seq`."""

    author_id: int
    post_id: int
    at_ms: int
    present: bool
    seq: int


@dataclass(frozen=True, slots=True)
class SetPostTags:
    """The post is (or, deleted, is no longer) in the timeline of each of its tags, as of `seq`.
    A deletion names no tags: the adapter removes the post from those it was added to."""

    post_id: int
    tags: tuple[str, ...]  # normalised (projections/text.py); () when not present
    at_ms: int
    present: bool
    seq: int


@dataclass(frozen=True, slots=True)
class FeedAdd:
    """Push a post into home feeds (each trimmed to MAX_FEED newest entries)."""

    owners: tuple[int, ...]
    post_id: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class FeedRemove:
    """Purge posts from home feeds: (owner, post) pairs."""

    entries: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class MarkCelebrity:
    """From now on the user's posts are pulled at read time, not pushed (one-way)."""

    user_id: int


@dataclass(frozen=True, slots=True)
class SetLike:
    """`liker` likes `post` (or not), as of `seq`; `notify`: tell the post's author."""

    post_id: int
    author_id: int
    liker_id: int
    at_ms: int
    liked: bool
    seq: int
    notify: bool


@dataclass(frozen=True, slots=True)
class SetComment:
    """The comment exists (`present`) or was deleted, as of `seq`; `notify`: tell the author."""

    comment_id: int
    post_id: int
    author_id: int  # the post's author: the one notified
    commenter_id: int
    at_ms: int
    text: str  # empty when deleted
    present: bool
    seq: int
    notify: bool
    mentions: str = ""  # its @mentions as projections/text.py mention_entries keeps them
    notify_mentions: tuple[int, ...] = ()  # the mentioned users told (a deletion retracts all)


@dataclass(frozen=True, slots=True)
class PostMentions:
    """The post's caption mentions `recipients` (kept so that deleting the post retracts their
    notifications), as of `seq`; those in `notify` are told. A post gets them once: a
    republished post (the same post id again) changes nothing."""

    post_id: int
    author_id: int
    at_ms: int
    recipients: tuple[int, ...]
    notify: tuple[int, ...]
    seq: int


@dataclass(frozen=True, slots=True)
class SetFollowNotice:
    """`follower` follows `followee` (or not), as of `seq`: the followee's notification."""

    followee_id: int
    follower_id: int
    at_ms: int
    present: bool
    seq: int


@dataclass(frozen=True, slots=True)
class ReadNotifications:
    """Every notification of `user` whose newest activity is <= `up_to_id` is read."""

    user_id: int
    up_to_id: int


@dataclass(frozen=True, slots=True)
class PostGone:
    """The post was deleted: no new engagement notifications; those about it are retracted."""

    post_id: int
    author_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class IndexPost:
    """The post is searchable by its caption and tags, as of `seq`."""

    post_id: int
    author_id: int
    caption: str
    tags: tuple[str, ...]
    at_ms: int
    seq: int


@dataclass(frozen=True, slots=True)
class UnindexPost:
    """The post is no longer searchable (a tombstone: an older IndexPost cannot revive it)."""

    post_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class IndexUser:
    """The user is findable by username prefix."""

    user_id: int
    username: str
    seq: int


Write = (
    PutUser
    | SetAvatar
    | SetProfile
    | SetFollow
    | SetFollowRequest
    | SetPrivacy
    | SetBlock
    | SetMute
    | SetPhoto
    | PutContent
    | ReleasePhoto
    | PutPost
    | SetTimeline
    | SetPostTags
    | FeedAdd
    | FeedRemove
    | MarkCelebrity
    | SetLike
    | SetComment
    | PostMentions
    | SetFollowNotice
    | ReadNotifications
    | PostGone
    | IndexPost
    | UnindexPost
    | IndexUser
)


Handler = Callable[[Any], "list[Write]"]  # a pure group's handler: one event -> its writes
FactHandler = Callable[[Any, F], "list[Write]"]  # one event and the facts its group needs -> writes
