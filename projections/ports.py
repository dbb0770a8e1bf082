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


class ProjectionWriter(Protocol):
    """Performs a batch of writes in order; a write older than the stored version is skipped."""

    async def apply(self, writes: Sequence[Write]) -> None: ...
