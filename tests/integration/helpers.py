"""Event builders for integration tests: events as the gateway would append them."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import events as ev
from schemas.ids import SnowflakeGenerator

IDS = SnowflakeGenerator(1023)  # tests use the last worker id; gateways lease from 0 upwards


def now() -> datetime:
    return datetime.now(tz=UTC).replace(microsecond=(datetime.now().microsecond // 1000) * 1000)


def registered(username: str) -> ev.UserRegistered:
    return ev.UserRegistered(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=IDS.next_id(), username=username
    )


def followed(follower: int, followee: int) -> ev.UserFollowed:
    return ev.UserFollowed(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=follower, followee_id=followee
    )


def unfollowed(follower: int, followee: int) -> ev.UserUnfollowed:
    return ev.UserUnfollowed(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=follower, followee_id=followee
    )


def published(
    author: int | str, caption: str = "", tags: tuple[str, ...] = ("t",)
) -> ev.PostPublished:
    """A post as the media agent publishes it (variants named after the post; no real image)."""
    post = IDS.next_id()
    return ev.PostPublished(
        event_id=IDS.next_id(), occurred_at=now(), actor_id=int(author), post_id=post,
        photo_id=post, caption=caption, tags=tags,
        variants=ev.Variants(f"v/{post}/t.jpg", f"v/{post}/f.jpg", f"v/{post}/u.jpg"),
        width=1080, height=810, blurhash="LEHV6nWB2yk8",
    )  # fmt: skip
