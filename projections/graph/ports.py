"""The ports of the users/graph group: users by id, the follow graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from projections.ports import Page, Position, first_rows


@dataclass(frozen=True, slots=True)
class UserView:
    user_id: int
    username: str
    avatar_url: str | None
    created_ms: int


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


class GraphViews(UserReader, GraphReader, Protocol):
    """One version of the users/graph projection group, as the gateway reads it."""


def edges_page(edges: Sequence[Edge], limit: int) -> Page[Edge]:
    """The page in up to `limit + 1` edges read newest first past a cursor (every adapter's)."""
    items, nxt = first_rows(edges, limit, lambda e: Position(e.at_ms, e.user_id))
    return Page(items, nxt)
