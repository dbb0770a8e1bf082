"""The ports of the search group: one index version, and every version of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from projections.search.logic import SearchCursor, SearchHit, SearchQuery
from projections.writes import Write


class SearchIndex(Protocol):
    """One version of the search index. `apply` is idempotent and order-safe (version-guarded,
    deletions are tombstones); `posts` pages hits of live posts by (rank, newest); `users` pages
    user ids by username for a prefix, after the username `after`."""

    async def apply(self, writes: Sequence[Write]) -> None: ...

    async def posts(
        self, query: SearchQuery, limit: int, after: SearchCursor | None
    ) -> list[SearchHit]: ...

    async def users(self, prefix: str, limit: int, after: str | None) -> list[tuple[int, str]]: ...

    async def erase(self, user_id: int, post_ids: Sequence[int]) -> None:
        """Forget the user and their posts entirely, tombstones included (an erasure)."""
        ...


class SearchVersions(Protocol):
    """Every version of the search index: one per version, compared, dropped, activated."""

    def at(self, version: int) -> SearchIndex: ...

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]: ...

    async def drop(self, version: int) -> int: ...

    async def activate(self, version: int) -> None: ...
