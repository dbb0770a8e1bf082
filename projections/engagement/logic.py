"""The engagement projection group as pure logic: likes, comments and notifications.

One group because a notification must change exactly when the engagement it reports changes: the
adapter applies a like, its count and its notification in one atomic step, so a redelivered,
replayed or reordered event can neither double-count nor double-notify.

Notifications are grouped per recipient:
- likes of one post form one group ("ana and 3 others liked your photo");
- every comment is its own notification (it carries text);
- follows group by UTC day ("ana and 4 others started following you");
- an @mention in a caption is one per post, in a comment one per comment (the users a text
  mentions were resolved when it was written: the event carries them).
Acting on your own post, or mentioning yourself, notifies nobody. Unlike, comment deletion,
unfollow, a block (the follows both ways) and post deletion retract what they had caused (a
post's deletion also retracts its caption's mentions; its comments' mentions live as long as
the comments, hidden by the pages once the post is gone: see engagement.lua set_comments).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, NamedTuple

from projections.event_time import event_ms
from projections.text import framed, mention_entries, mentioned_users
from projections.writes import (
    Handler,
    PostGone,
    PostMentions,
    ReadNotifications,
    SetComment,
    SetFollowNotice,
    SetLike,
    Write,
)
from schemas import events as ev

DAY_MS = 24 * 3600 * 1000
MAX_NOTIFICATIONS = 500  # bundles kept per recipient (oldest trimmed); >= 5 pages of 100
MAX_BUNDLE_ACTORS = 10  # newest actors kept per bundle for display; >= the 3 a notification shows
SHOWN_ACTORS = 3  # actors named in one notification ("ana, bob and 3 others")

LIKE, COMMENT, FOLLOW, MENTION = "like", "comment", "follow", "mention"


def like_bundle(post_id: int) -> str:
    return f"{LIKE}:{post_id}"


def comment_bundle(post_id: int, comment_id: int) -> str:
    return f"{comment_bundles_prefix(post_id)}{comment_id}"


def comment_bundles_prefix(post_id: int) -> str:
    """What every comment bundle of the post starts with."""
    return f"{COMMENT}:{post_id}:"


def follow_bundle(at_ms: int) -> str:
    return f"{FOLLOW}:{at_ms // DAY_MS}"


def mention_bundle(post_id: int, comment_id: int | None = None) -> str:
    """A mention in the post's caption (no comment), or in one of its comments."""
    return f"{MENTION}:{post_id}" if comment_id is None else f"{MENTION}:{post_id}:{comment_id}"


def parse_bundle(bundle: str) -> tuple[str, int | None, int | None]:
    """(type, post id, comment id) of a notification bundle (the activities shown as one)."""
    kind, _, rest = bundle.partition(":")
    if kind == LIKE:
        return kind, int(rest), None
    if kind in (COMMENT, MENTION):
        post, _, comment = rest.partition(":")
        return kind, int(post), int(comment) if comment else None
    return kind, None, None


def on_liked(e: ev.PostLiked) -> list[Write]:
    return [_like(e, True)]


def on_unliked(e: ev.PostUnliked) -> list[Write]:
    return [_like(e, False)]


def _like(e: ev.PostLiked | ev.PostUnliked, liked: bool) -> SetLike:
    notify = e.actor_id != e.author_id
    return SetLike(e.post_id, e.author_id, e.actor_id, event_ms(e), liked, e.event_id, notify)


def on_comment_added(e: ev.CommentAdded) -> list[Write]:
    mentions = framed(e.text, [(m.user_id, m.start, m.end) for m in e.mentions])
    return [
        SetComment(e.comment_id, e.post_id, e.author_id, e.actor_id, event_ms(e), e.text, True,
                   e.event_id, notify=e.actor_id != e.author_id,
                   mentions=mention_entries(e.text, mentions),
                   notify_mentions=mentioned_users(mentions, e.actor_id))
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


def on_blocked(e: ev.UserBlocked) -> list[Write]:
    """A block ends the follows both ways (projections/graph/handlers.py): their notifications
    are retracted as an unfollow's would be (an unblock brings none back)."""
    a, b, ms = e.actor_id, e.blocked_id, event_ms(e)
    if a == b:
        return []
    return [SetFollowNotice(b, a, ms, False, e.event_id),
            SetFollowNotice(a, b, ms, False, e.event_id)]  # fmt: skip


def on_follow_request_resolved(e: ev.FollowRequestResolved) -> list[Write]:
    """An approved follow request is a follow: the owner's `follow` notification, as for any
    (an unfollow retracts it). Going public approves requests without one."""
    if not e.approved or e.actor_id == e.requester_id:
        return []
    return [SetFollowNotice(e.actor_id, e.requester_id, event_ms(e), True, e.event_id)]


def on_notifications_read(e: ev.NotificationsRead) -> list[Write]:
    return [ReadNotifications(e.actor_id, e.up_to_id)]


def on_post_deleted(e: ev.PostDeleted) -> list[Write]:
    return [PostGone(e.post_id, e.actor_id, e.event_id)]


def on_published(e: ev.PostPublished) -> list[Write]:
    """The caption's mentions, when it has any (a post's likes and comments need no start)."""
    mentions = framed(e.caption, [(m.user_id, m.start, m.end) for m in e.mentions])
    recipients = mentioned_users(mentions, e.actor_id)
    if not recipients:
        return []
    return [PostMentions(e.post_id, e.actor_id, event_ms(e), recipients, recipients, e.event_id)]


ENGAGEMENT_HANDLERS: dict[type[ev.Event], Handler] = {
    ev.PostLiked: on_liked,
    ev.PostUnliked: on_unliked,
    ev.CommentAdded: on_comment_added,
    ev.CommentDeleted: on_comment_deleted,
    ev.UserFollowed: on_followed,
    ev.UserUnfollowed: on_unfollowed,
    ev.FollowRequestResolved: on_follow_request_resolved,
    ev.UserBlocked: on_blocked,
    ev.NotificationsRead: on_notifications_read,
    ev.PostDeleted: on_post_deleted,
    ev.PostPublished: on_published,
}


def notice_recipients(writes: Iterable[Write]) -> set[int]:
    """Everyone the writes would notify (whose erasure the planner asks about)."""
    out: set[int] = set()
    for w in writes:
        if isinstance(w, SetLike | SetComment) and w.notify:
            out.add(w.author_id)
        if isinstance(w, SetComment):
            out.update(w.notify_mentions)
        elif isinstance(w, PostMentions):
            out.update(w.notify)
    return out


def without_notices_to(erased: set[int], writes: list[Write]) -> list[Write]:
    """The writes, with no notification for an erased recipient: their inbox is gone, and a
    replay (which skips their events) never builds one. A text still mentions them (the post
    keeps its recipients, so its deletion retracts alike live and in a replay); the pages leave
    an erased user's mention out."""
    return [_without(erased, w) for w in writes]


def _without(erased: set[int], w: Write) -> Write:
    if isinstance(w, SetLike) and w.notify and w.author_id in erased:
        return dataclasses.replace(w, notify=False)
    if isinstance(w, SetComment):
        notify = w.notify and w.author_id not in erased
        told = tuple(u for u in w.notify_mentions if u not in erased)
        if (notify, told) != (w.notify, w.notify_mentions):
            return dataclasses.replace(w, notify=notify, notify_mentions=told)
    if isinstance(w, PostMentions) and erased & set(w.notify):
        return dataclasses.replace(w, notify=tuple(u for u in w.notify if u not in erased))
    return w


class LikeRun(NamedTuple):  # a tuple: a batch builds thousands
    """One liker's likes and unlikes of one post within a batch, in order, as the adapter needs
    them: only steps newer than every earlier step of the same pair (an older one can never be
    applied: the stored version is at least the newest step applied before it)."""

    post_id: int
    author_id: int
    liker_id: int
    notify: bool
    steps: tuple[tuple[int, bool, int], ...]  # (version, liked, at_ms), versions increasing


def like_runs(writes: Iterable[SetLike]) -> list[LikeRun]:
    """The batch's likes collapsed per (liker, post), in order of first appearance.

    Applying the runs in order, each step when newer than the stored version, leaves exactly the
    state that applying `writes` one by one leaves: a step is skipped here only when an earlier
    step of the same pair was newer, so it would have been skipped anyway. A pair whose author or
    `notify` changes mid-batch (never, in practice) continues in a new run after its current one.
    """
    runs: list[list[Any]] = []  # [post, author, liker, notify, steps, newest version]
    latest: dict[tuple[int, int], list[Any]] = {}
    for w in writes:
        run = latest.get((w.liker_id, w.post_id))
        if run is not None and w.seq <= run[5]:
            continue
        if run is None or run[1] != w.author_id or run[3] != w.notify:
            run = [w.post_id, w.author_id, w.liker_id, w.notify, [], 0]
            latest[(w.liker_id, w.post_id)] = run
            runs.append(run)
        run[4].append((w.seq, w.liked, w.at_ms))
        run[5] = w.seq
    return [LikeRun(r[0], r[1], r[2], r[3], tuple(r[4])) for r in runs]
