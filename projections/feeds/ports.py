"""The ports of the feeds group: posts, author timelines, home feeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from projections.ports import Position
from projections.text import MentionView


@dataclass(frozen=True, slots=True)
class PostView:
    post_id: int
    author_id: int
    caption: str
    tags: tuple[str, ...]
    variants: dict[str, str]
    width: int
    height: int
    blurhash: str
    alt_text: str | None
    published_ms: int
    mentions: tuple[MentionView, ...] = ()  # of the caption, erased users included


@dataclass(frozen=True, slots=True)
class FeedState:
    exists: bool
    trimmed: bool  # older entries were dropped at the cap: history continues in timelines


class PostReader(Protocol):
    """Live posts by id (deleted and unknown ids absent); author timelines newest first, paged
    by (ms, id), as (post id, ms) rows; their sizes."""

    async def posts(self, ids: Sequence[int]) -> dict[int, PostView]: ...

    async def timeline_page(
        self, author_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]: ...

    async def timeline_pages(
        self, authors: Sequence[int], limit: int, after: Position | None
    ) -> dict[int, list[tuple[int, int]]]: ...

    async def post_counts(self, authors: Sequence[int]) -> dict[int, int]: ...


class FeedStore(PostReader, Protocol):
    """What the feed read path and the gateway use of the feeds group: posts and timelines, the
    home feeds with the celebrity set, and tag timelines (a normalised tag's posts, newest first,
    as (post id, ms) rows)."""

    max_feed: int

    async def celebrities(self) -> set[int]: ...

    async def feed_state(self, user_id: int) -> FeedState: ...

    async def feed_page(
        self, user_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]: ...

    async def fill_feed(self, user_id: int, rows: Sequence[tuple[int, int]]) -> None: ...

    async def tag_page(
        self, tag: str, limit: int, after: Position | None
    ) -> list[tuple[int, int]]: ...
