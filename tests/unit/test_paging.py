"""The routes' paging helper (gateway/paging.py): walking a sorted range page by page from each
page's `next` reads every row exactly once, in order, with no empty page, and asks its reader
for one row more than a page holds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.paging import Paged, fetch_page

Row = tuple[int, int]  # (at_ms, id), newest first


class SortedRange:
    """A keyset-paged reader over rows kept newest first: up to `n` rows after a cursor, as
    the timeline and search readers answer (the rows themselves are the cursors here)."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = sorted(set(rows), reverse=True)
        self.asked: list[int] = []

    async def after(self, cursor: Row | None, n: int) -> list[Row]:
        self.asked.append(n)
        return [r for r in self.rows if cursor is None or r < cursor][:n]


def walk(reader: SortedRange, limit: int) -> list[Paged[Row, Row]]:
    async def pages() -> list[Paged[Row, Row]]:
        out: list[Paged[Row, Row]] = []
        cursor: Row | None = None
        while True:
            page = await fetch_page(partial(reader.after, cursor), limit, lambda row: row)
            out.append(page)
            if page.next is None:
                return out
            cursor = page.next

    return asyncio.run(pages())


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(1, 50)), max_size=40),
    st.integers(1, 12),
)
def test_walking_the_pages_reads_every_row_once_in_order(rows: list[Row], limit: int) -> None:
    reader = SortedRange(rows)
    pages = walk(reader, limit)
    assert [r for p in pages for r in p.items] == reader.rows
    assert all(len(p.items) == limit and p.more for p in pages[:-1])
    assert not pages[-1].more
    assert len(pages[-1].items) <= limit
    assert pages[-1].items or len(pages) == 1  # an empty page only for an empty range
    assert set(reader.asked) == {limit + 1}  # one query per page: the extra row is the answer


def test_the_next_page_starts_at_the_end_of_the_last_row() -> None:
    reader = SortedRange([(30, 3), (20, 2), (10, 1)])
    first = asyncio.run(
        fetch_page(lambda n: reader.after(None, n), 2, lambda row: (row[0], f"id{row[1]}"))
    )
    assert first.items == [(30, 3), (20, 2)]
    assert first.next == (20, "id2")
    assert first.more


def test_an_exactly_full_last_page_says_nothing_follows() -> None:
    reader = SortedRange([(30, 3), (20, 2)])
    page = asyncio.run(fetch_page(lambda n: reader.after(None, n), 2, lambda row: row))
    assert page.items == [(30, 3), (20, 2)]
    assert page.next is None
    assert not page.more


def test_a_page_holds_at_least_one_row() -> None:
    reader = SortedRange([(1, 1)])
    with pytest.raises(ValueError, match="at least one row"):
        asyncio.run(fetch_page(lambda n: reader.after(None, n), 0, lambda row: row))
    assert reader.asked == []  # refused before anything is read
