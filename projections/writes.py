"""The writes projection handlers emit; adapters perform them.

Every write carries `version`, the event id that caused it: an adapter applies a write to an entity
only when its version is newer than the one stored, so redelivered, replayed or reordered events
leave every read model unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION_WIDTH = 19  # decimal digits of the largest Snowflake id (2**63 - 1)


def version_key(event_id: int) -> str:
    """A version that orders right as a string (Lua numbers are doubles, exact only to 2**53)."""
    return str(event_id).zfill(VERSION_WIDTH)


@dataclass(frozen=True, slots=True)
class PutUser:
    user_id: int
    username: str
    created_ms: int
    version: int


@dataclass(frozen=True, slots=True)
class SetAvatar:
    user_id: int
    avatar_url: str | None
    version: int


@dataclass(frozen=True, slots=True)
class SetFollow:
    """The edge follower -> followee exists (`active`) or not, as of `version`."""

    follower_id: int
    followee_id: int
    at_ms: int
    active: bool
    version: int


Write = PutUser | SetAvatar | SetFollow
