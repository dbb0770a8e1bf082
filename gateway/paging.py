"""One page of a keyset-paged read: fetch one row more than the page holds, so whether another
page follows is known from the same query (no count, and never an empty last page to fetch).

Readers that page themselves (projections' `Page`) are not fetched through this; it is for the
routes that read a bare sorted range: the profile grid's timeline, search hits and users.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from projections.ports import first_rows

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Paged(Generic[T, C]):
    """A page's rows and where the next page starts: the end of its last row, None when no
    row follows it."""

    items: list[T]
    next: C | None

    @property
    def more(self) -> bool:
        return self.next is not None


async def fetch_page(
    fetch: Callable[[int], Awaitable[Sequence[T]]], limit: int, end: Callable[[T], C]
) -> Paged[T, C]:
    """`fetch(n)` reads up to `n` rows past the request's cursor; the first `limit` (>= 1) of
    them are the page, and one more means another page follows from `end(last row)`."""
    if limit < 1:
        raise ValueError(f"a page holds at least one row, not {limit}")
    items, nxt = first_rows(await fetch(limit + 1), limit, end)
    return Paged(items, nxt)
