"""The engagement projection group as pure logic: likes, comments and notifications.

One group because a notification must change exactly when the engagement it reports changes: the
adapter applies a like, its count and its notification in one atomic step, so a redelivered,
replayed or reordered event can neither double-count nor double-notify.

Notifications are grouped per recipient:
- likes of one post form one group ("ana and 3 others liked your photo");
- every comment is its own notification (it carries text);
- follows group by UTC day ("ana and 4 others started following you").
Acting on your own post notifies nobody. Unlike, comment deletion, unfollow and post deletion
retract what they had caused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from projections.event_time import event_ms
from projections.writes import (
    PostGone,
    ReadNotifications,
    SetComment,
    SetFollowNotice,
    SetLike,
    Write,
)
from schemas import events as ev

DAY_MS = 24 * 3600 * 1000
MAX_NOTIFICATIONS = 500  # groups kept per recipient (oldest trimmed); >= 5 pages of 100
MAX_GROUP_ACTORS = 10  # newest actors kept per group for display; >= the 3 a notification shows
SHOWN_ACTORS = 3  # actors named in one notification ("ana, bob and 3 others")

LIKE, COMMENT, FOLLOW = "like", "comment", "follow"


def like_group(post_id: int) -> str:
    return f"{LIKE}:{post_id}"


def comment_group(post_id: int, comment_id: int) -> str:
    return f"{comment_groups_prefix(post_id)}{comment_id}"


def comment_groups_prefix(post_id: int) -> str:
    """What every comment group of the post starts with."""
    return f"{COMMENT}:{post_id}:"


def follow_group(at_ms: int) -> str:
    return f"{FOLLOW}:{at_ms // DAY_MS}"


def parse_group(group: str) -> tuple[str, int | None, int | None]:
    """(type, post id, comment id) of a notification group key."""
    kind, _, rest = group.partition(":")
    if kind == LIKE:
        return kind, int(rest), None
    if kind == COMMENT:
        post, _, comment = rest.partition(":")
        return kind, int(post), int(comment)
    return kind, None, None


def on_liked(e: ev.PostLiked) -> list[Write]:
    return [_like(e, True)]


def on_unliked(e: ev.PostUnliked) -> list[Write]:
    return [_like(e, False)]


def _like(e: ev.PostLiked | ev.PostUnliked, liked: bool) -> SetLike:
    notify = e.actor_id != e.author_id
    return SetLike(e.post_id, e.author_id, e.actor_id, event_ms(e), liked, e.event_id, notify)


def on_comment_added(e: ev.CommentAdded) -> list[Write]:
    return [
        SetComment(e.comment_id, e.post_id, e.author_id, e.actor_id, event_ms(e), e.text, True,
                   e.event_id, notify=e.actor_id != e.author_id)
    ]  # fmt: skip


def on_comment_deleted(e: ev.CommentDeleted) -> list[Write]:
    return [
        SetComment(e.comment_id, e.post_id, e.author_id, e.commenter_id, event_ms(e), "", False,
                   e.event_id, notify=e.commenter_id != e.author_id)
    ]  # fmt: skip


def on_followed(e: ev.UserFollowed) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []
    return [SetFollowNotice(e.followee_id, e.actor_id, event_ms(e), True, e.event_id)]


def on_unfollowed(e: ev.UserUnfollowed) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []
    return [SetFollowNotice(e.followee_id, e.actor_id, event_ms(e), False, e.event_id)]


def on_notifications_read(e: ev.NotificationsRead) -> list[Write]:
    return [ReadNotifications(e.actor_id, e.up_to_id)]


def on_post_deleted(e: ev.PostDeleted) -> list[Write]:
    return [PostGone(e.post_id, e.actor_id, e.event_id)]


ENGAGEMENT_HANDLERS: dict[type[ev.Event], Callable[[Any], list[Write]]] = {
    ev.PostLiked: on_liked,
    ev.PostUnliked: on_unliked,
    ev.CommentAdded: on_comment_added,
    ev.CommentDeleted: on_comment_deleted,
    ev.UserFollowed: on_followed,
    ev.UserUnfollowed: on_unfollowed,
    ev.NotificationsRead: on_notifications_read,
    ev.PostDeleted: on_post_deleted,
}


def without_notices_to(erased: set[int], writes: list[Write]) -> list[Write]:
    """The writes, with no notification for an erased recipient: their inbox is gone, and a
    replay (which skips their events) never builds one."""
    return [
        dataclasses.replace(w, notify=False)
        if isinstance(w, SetLike | SetComment) and w.notify and w.author_id in erased
        else w
        for w in writes
    ]
