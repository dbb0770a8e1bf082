"""Every user at one end of a user's follow edges, paged through the graph port.

The fan-out planner needs an author's every follower, and an erasure on Cassandra both sides of
the user's edges: the GraphReader port answers newest-first pages (as a CQL partition would), so
this walks them to the end, FOLLOWER_PAGE rows per round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from projections.graph.ports import Edge, GraphReader
from projections.ports import Page, Position

FOLLOWER_PAGE = 5000  # edges read per round trip

EdgePages = Callable[[int, int, Position | None], Awaitable[Page[Edge]]]  # GraphReader.followers


async def all_edges(pages: EdgePages, user: int, page_size: int = FOLLOWER_PAGE) -> list[int]:
    """The users at the other end of one side of `user`'s edges (`graph.followers` or
    `graph.following`), newest first, page by page."""
    out: list[int] = []
    after = None
    while True:
        page = await pages(user, page_size, after)
        out += [e.user_id for e in page.items]
        if page.next is None:
            return out
        after = page.next


async def all_followers(graph: GraphReader, author: int) -> list[int]:
    """Every follower of `author`."""
    return await all_edges(graph.followers, author)
