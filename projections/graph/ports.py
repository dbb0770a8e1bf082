"""The ports of the users/graph group: users by id, the follow graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from projections.graph.relations import Relation
from projections.ports import Page, Position, first_rows


@dataclass(frozen=True, slots=True)
class UserView:
    user_id: int
    username: str
    avatar_url: str | None  # a URL given as such (UserAvatarChanged v1); keyed avatars: None
    created_ms: int
    display_name: str | None = None
    bio: str | None = None
    avatar_keys: tuple[str, ...] = ()  # object keys of the 64, 150 and 320 px squares
    private: bool = False  # only approved followers see its content (graph/visibility.py)


@dataclass(frozen=True, slots=True)
class Edge:
    user_id: int  # the other end of the edge
    at_ms: int  # when the follow happened


@dataclass(frozen=True, slots=True)
class GraphCounts:
    followers: int
    following: int


class UserReader(Protocol):
    """Users by id; ids with no user are absent from the answer."""

    async def users(self, ids: Sequence[int]) -> dict[int, UserView]: ...


class GraphReader(Protocol):
    """The follow graph: both adjacency lists newest first, their sizes, and membership tests."""

    async def followers(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]: ...

    async def following(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]: ...

    async def counts(self, ids: Sequence[int]) -> dict[int, GraphCounts]: ...

    async def follows(self, follower_id: int, candidates: Sequence[int]) -> set[int]: ...

    async def requesters_before(self, owner: int, seq: int) -> list[int]:
        """The requesters whose newest follow request is older than `seq` and still pending or
        approved: whom the owner's going public at `seq` made followers (projections/graph/
        requests.py; the feeds planner's backfill)."""
        ...


class FollowRequestReader(Protocol):
    """Follow requests of private accounts (projections/graph/requests.py)."""

    async def follow_requests(self, owner: int, limit: int, after: Position | None) -> Page[Edge]:
        """The owner's pending requests, newest first (Edge: the requester, when they asked)."""
        ...

    async def requested(self, requester: int, owners: Sequence[int]) -> set[int]:
        """Those of `owners` with a pending request of `requester`."""
        ...


class RelationReader(Protocol):
    """Blocks and mutes (projections/graph/relations.py)."""

    async def relations(self, viewer: int, others: Sequence[int]) -> dict[int, Relation]:
        """The viewer's relation to each of `others` (every one answered; NONE for most)."""
        ...

    async def blocks(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        """Whom the user blocked, newest first (Edge: the blocked user, since when)."""
        ...

    async def mutes(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]:
        """Whom the user muted, newest first."""
        ...


class GraphViews(UserReader, GraphReader, FollowRequestReader, RelationReader, Protocol):
    """One version of the users/graph projection group, as the gateway reads it."""


def edges_page(edges: Sequence[Edge], limit: int) -> Page[Edge]:
    """The page in up to `limit + 1` edges read newest first past a cursor (every adapter's)."""
    items, nxt = first_rows(edges, limit, lambda e: Position(e.at_ms, e.user_id))
    return Page(items, nxt)
