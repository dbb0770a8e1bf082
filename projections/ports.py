"""The ports every projection backend implements (Redis embedded; Cassandra at scale).

Reads are shaped like CQL tables: a partition key (the user) and a clustering order (newest first,
then id), paged by the clustering key of the last row, never by offset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from projections.writes import Write

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Position:
    """Where a newest-first page ended: the last row's time (ms) and id (the tiebreak)."""

    at_ms: int
    id: int


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: Position | None  # None when nothing older remains


def first_rows(rows: Sequence[T], limit: int, end: Callable[[T], C]) -> tuple[list[T], C | None]:
    """The page in up to `limit + 1` rows read past a cursor: the first `limit`, and where the
    next page starts (`end` of the last one) when the extra row shows one follows. Every keyset
    page reads one row more than it holds, so it knows without a count whether more remain."""
    items = list(rows[:limit])
    return items, end(items[-1]) if len(rows) > limit and items else None


class ProjectionWriter(Protocol):
    """Performs a batch of writes in order; a write older than the stored version is skipped."""

    async def apply(self, writes: Sequence[Write]) -> None: ...
