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
