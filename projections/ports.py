"""The ports every projection backend implements (Redis embedded; Cassandra at scale).

Reads are shaped like CQL tables: a partition key (the user) and a clustering order (newest first,
then id), paged by the clustering key of the last row, never by offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from projections.writes import Write

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Position:
    """Where a newest-first page ended: the last row's time (ms) and id (the tiebreak)."""

    at_ms: int
    id: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: Position | None  # None when nothing older remains


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


class ProjectionWriter(Protocol):
    """Performs a batch of writes in order; a write older than the stored version is skipped."""

    async def apply(self, writes: Sequence[Write]) -> None: ...


class UserReader(Protocol):
    """Users by id; ids with no user are absent from the answer."""

    async def users(self, ids: Sequence[int]) -> dict[int, UserView]: ...


class GraphReader(Protocol):
    """The follow graph: both adjacency lists newest first, their sizes, and membership tests."""

    async def followers(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]: ...

    async def following(self, user_id: int, limit: int, after: Position | None) -> Page[Edge]: ...

    async def counts(self, ids: Sequence[int]) -> dict[int, GraphCounts]: ...

    async def follows(self, follower_id: int, candidates: Sequence[int]) -> set[int]: ...


class VersionRegistry(Protocol):
    """Which version of each projection group serves reads, and which one a replay is building."""

    async def active(self, group: str) -> int: ...

    async def targets(self, group: str) -> list[int]: ...

    async def begin_build(self, group: str) -> int: ...

    async def finish_build(self, group: str, version: int, swap: bool) -> int | None: ...
