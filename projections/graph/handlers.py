"""The users/graph group as pure logic: registrations, avatars, follows, celebrity flags."""

from __future__ import annotations

from projections.event_time import event_ms
from projections.writes import Handler, MarkCelebrity, PutUser, SetAvatar, SetFollow, Write
from schemas import events as ev


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


GRAPH_HANDLERS: dict[type[ev.Event], Handler] = {
    ev.UserRegistered: on_user_registered,
    ev.UserAvatarChanged: on_avatar_changed,
    ev.UserFollowed: on_followed,
    ev.UserUnfollowed: on_unfollowed,
    ev.CelebrityFlagged: on_celebrity_flagged,
}
