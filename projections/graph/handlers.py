"""The users/graph group as pure logic: registrations, profiles, avatars, follows, blocks and
mutes, celebrity flags."""

from __future__ import annotations

from projections.event_time import event_ms
from projections.graph.requests import APPROVE, EDGE, REJECT, REQUEST
from projections.writes import (
    Handler,
    MarkCelebrity,
    PutUser,
    SetAvatar,
    SetBlock,
    SetFollow,
    SetFollowRequest,
    SetMute,
    SetPrivacy,
    SetProfile,
    Write,
)
from schemas import events as ev
from schemas.media import avatar_upload_of


def on_user_registered(e: ev.UserRegistered) -> list[Write]:
    return [PutUser(e.actor_id, e.username, event_ms(e), e.event_id)]


def on_avatar_changed(e: ev.UserAvatarChanged) -> list[Write]:
    """v2 names the squares' object keys (the media agent's); a v1 URL stands when no keys came.

    An uploaded avatar counts as of its upload (its photo id, a Snowflake taken when the upload
    began), not of the event that reports it processed: the newer upload wins whatever order
    the media agent finishes them in, a redelivered older one cannot come back, and a removal
    (its own event id) undoes every upload begun before it."""
    keys = tuple(e.avatar_keys)
    seq = (avatar_upload_of(keys[0]) or e.event_id) if keys else e.event_id
    return [SetAvatar(e.actor_id, None if keys else e.avatar_url or None, seq, keys)]


def on_profile_updated(e: ev.ProfileUpdated) -> list[Write]:
    if e.display_name is None and e.bio is None:
        return []  # nothing changed
    return [SetProfile(e.actor_id, e.display_name, e.bio, e.event_id)]


def on_followed(e: ev.UserFollowed) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []  # the gateway refuses self-follows; an old or foreign one is ignored
    ms = event_ms(e)
    return [SetFollow(e.actor_id, e.followee_id, ms, True, e.event_id),
            SetFollowRequest(e.followee_id, e.actor_id, EDGE, ms, e.event_id)]  # fmt: skip


def on_unfollowed(e: ev.UserUnfollowed) -> list[Write]:
    """An unfollow also withdraws a pending request (the edge's newer seq closes it)."""
    if e.actor_id == e.followee_id:
        return []
    ms = event_ms(e)
    return [SetFollow(e.actor_id, e.followee_id, ms, False, e.event_id),
            SetFollowRequest(e.followee_id, e.actor_id, EDGE, 0, e.event_id)]  # fmt: skip


def on_follow_requested(e: ev.FollowRequested) -> list[Write]:
    if e.actor_id == e.followee_id:
        return []
    return [SetFollowRequest(e.followee_id, e.actor_id, REQUEST, event_ms(e), e.event_id)]


def on_follow_request_resolved(e: ev.FollowRequestResolved) -> list[Write]:
    """The owner's answer; an approval makes the requester a follower (projections/graph/
    requests.py decides which request it answers)."""
    if e.actor_id == e.requester_id:
        return []
    kind = APPROVE if e.approved else REJECT
    return [SetFollowRequest(e.actor_id, e.requester_id, kind, event_ms(e), e.event_id)]


def on_privacy_changed(e: ev.AccountPrivacyChanged) -> list[Write]:
    return [SetPrivacy(e.actor_id, e.private, e.event_id)]


def on_blocked(e: ev.UserBlocked) -> list[Write]:
    """A block removes the follows both ways as two unfollows at the block's seq would (a
    pending follow request either way is closed with them: projections/graph/requests.py), and
    is kept on both sides (projections/graph/relations.py). An unblock restores none of it."""
    a, b = e.actor_id, e.blocked_id
    if a == b:
        return []  # the gateway refuses blocking yourself; an old or foreign one is ignored
    ms = event_ms(e)
    seq = e.event_id
    return [
        SetBlock(a, b, ms, True, seq),
        SetFollow(a, b, ms, False, seq), SetFollowRequest(b, a, EDGE, 0, seq),
        SetFollow(b, a, ms, False, seq), SetFollowRequest(a, b, EDGE, 0, seq),
    ]  # fmt: skip


def on_unblocked(e: ev.UserUnblocked) -> list[Write]:
    if e.actor_id == e.blocked_id:
        return []
    return [SetBlock(e.actor_id, e.blocked_id, event_ms(e), False, e.event_id)]


def on_muted(e: ev.UserMuted) -> list[Write]:
    if e.actor_id == e.muted_id:
        return []
    return [SetMute(e.actor_id, e.muted_id, event_ms(e), True, e.event_id)]


def on_unmuted(e: ev.UserUnmuted) -> list[Write]:
    if e.actor_id == e.muted_id:
        return []
    return [SetMute(e.actor_id, e.muted_id, event_ms(e), False, e.event_id)]


def on_celebrity_flagged(e: ev.CelebrityFlagged) -> list[Write]:
    return [MarkCelebrity(e.actor_id)]  # followers then merge the user's posts at read time


GRAPH_HANDLERS: dict[type[ev.Event], Handler] = {
    ev.UserRegistered: on_user_registered,
    ev.UserAvatarChanged: on_avatar_changed,
    ev.ProfileUpdated: on_profile_updated,
    ev.UserFollowed: on_followed,
    ev.UserUnfollowed: on_unfollowed,
    ev.FollowRequested: on_follow_requested,
    ev.FollowRequestResolved: on_follow_request_resolved,
    ev.AccountPrivacyChanged: on_privacy_changed,
    ev.UserBlocked: on_blocked,
    ev.UserUnblocked: on_unblocked,
    ev.UserMuted: on_muted,
    ev.UserUnmuted: on_unmuted,
    ev.CelebrityFlagged: on_celebrity_flagged,
}
