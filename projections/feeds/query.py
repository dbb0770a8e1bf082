"""The home-feed read path: the pushed feed merged with celebrities' timelines, filtered, paged.

Ordered newest first by (published ms, post id) as Redis orders equal scores (member bytes,
descending), so a cursor (ms, id) is stable while new posts arrive above it. Posts of authors the
viewer no longer follows, and deleted posts, are filtered here at read time. When the pushed feed
is missing (new user, evicted, never built) or exhausted after trimming (deep scroll), the page is
pulled from every followed author's timeline instead: history never ends early.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from projections.feeds.ports import FeedState, PostView
from projections.ports import Position

Row = tuple[int, int]  # (post id, published ms)


class FeedSource(Protocol):
    """The reads the feed query needs (implemented by RedisFeeds)."""

    async def celebrities(self) -> set[int]: ...

    async def feed_state(self, user_id: int) -> FeedState: ...

    async def feed_page(self, user_id: int, limit: int, after: Position | None) -> list[Row]: ...

    async def timeline_pages(
        self, authors: Sequence[int], limit: int, after: Position | None
    ) -> dict[int, list[Row]]: ...

    async def posts(self, ids: Sequence[int]) -> dict[int, PostView]: ...


@dataclass(frozen=True)
class FeedPage:
    posts: list[PostView]
    next: Position | None
    missing: bool = False  # the pushed feed did not exist: the caller should rebuild it


def order_key(row: Row) -> tuple[int, bytes]:
    """Sort key, descending: score, then the member's decimal bytes (Redis's tie order)."""
    return row[1], str(row[0]).encode()


def merge_newest(sources: Iterable[Sequence[Row]], limit: int) -> list[Row]:
    """Up to `limit` distinct rows of newest-first sources, newest first."""
    out: list[Row] = []
    seen: set[int] = set()
    for row in heapq.merge(*sources, key=order_key, reverse=True):
        if row[0] in seen:
            continue
        seen.add(row[0])
        out.append(row)
        if len(out) == limit:
            break
    return out


async def read_feed(
    source: FeedSource,
    viewer: int,
    following: set[int],
    limit: int,
    after: Position | None,
) -> FeedPage:
    celebrities = await source.celebrities() & following
    state = await source.feed_state(viewer)
    pull_all = not state.exists
    cursor, kept = after, list[PostView]()
    while len(kept) <= limit:
        chunk = 2 * (limit + 1 - len(kept))
        pushed = [] if pull_all else await source.feed_page(viewer, chunk, cursor)
        if not pull_all and len(pushed) < chunk and state.trimmed:
            pull_all = True  # the pushed feed was trimmed: older history comes from timelines
            continue
        authors = sorted(following if pull_all else celebrities)
        pulled = await source.timeline_pages(authors, chunk, cursor)
        rows = merge_newest([pushed, *pulled.values()], chunk)
        if not rows:
            break
        posts = await source.posts([post for post, _ in rows])
        for post_id, ms in rows:
            cursor = Position(ms, post_id)
            view = posts.get(post_id)
            if view is not None and view.author_id in following:
                kept.append(view)
                if len(kept) > limit:
                    break
        exhausted = len(pushed) < chunk and all(len(p) < chunk for p in pulled.values())
        if exhausted and len(rows) < chunk:
            break
    page = kept[:limit]
    more = len(kept) > limit
    nxt = Position(page[-1].published_ms, page[-1].post_id) if more else None
    return FeedPage(page, nxt, missing=not state.exists)


async def rebuild_feed(source: FeedSource, feeds: FeedFiller, viewer: int, following: set[int]
                       ) -> int:  # fmt: skip
    """Rebuild a missing pushed feed from the timelines of followed non-celebrity authors."""
    authors = sorted(following - await source.celebrities())
    pages = await source.timeline_pages(authors, feeds.max_feed, None)
    rows = merge_newest(pages.values(), feeds.max_feed)
    await feeds.fill_feed(viewer, rows)
    return len(rows)


class FeedFiller(Protocol):
    max_feed: int

    async def fill_feed(self, user_id: int, rows: Sequence[Row]) -> None: ...
