"""The ports of the engagement group: counts, the viewer's likes, comments, notifications."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from projections.ports import Position
from projections.text import MentionView


@dataclass(frozen=True, slots=True)
class PostStats:
    likes: int
    comments: int
    liked_by_viewer: bool


@dataclass(frozen=True, slots=True)
class CommentView:
    comment_id: int
    post_id: int
    commenter_id: int
    text: str
    created_ms: int
    mentions: tuple[MentionView, ...] = ()  # erased users included: answers leave them out


@dataclass(frozen=True, slots=True)
class Notice:
    # like:<post> | comment:<post>:<comment> | follow:<day> | mention:<post>[:<comment>]
    bundle: str
    newest_id: int  # the event id of the newest activity: the notification's id
    at_ms: int  # when the newest remaining actor acted
    actors: list[int]  # newest first, at most SHOWN_ACTORS
    actor_count: int
    read: bool


@dataclass(frozen=True, slots=True)
class NoticePage:
    items: list[Notice]
    next: tuple[int, str] | None  # (ms, group) of the last row when more remain


class CommentReader(Protocol):
    """Live comments by id, and a post's comments oldest first paged by (ms, id)."""

    async def comments_by_id(self, ids: Sequence[int]) -> dict[int, CommentView]: ...

    async def comment(self, comment_id: int) -> CommentView | None: ...

    async def comments(
        self, post_id: int, limit: int, after: Position | None
    ) -> tuple[list[CommentView], Position | None]: ...


class NotificationReader(Protocol):
    """A user's notification groups, newest activity first, paged by (ms, group)."""

    async def notifications(
        self, user_id: int, limit: int, after: tuple[int, str] | None
    ) -> NoticePage: ...


class EngagementStore(CommentReader, NotificationReader, Protocol):
    """Counts and the viewer's likes for a page of posts, comments and notifications."""

    async def stats(self, post_ids: Sequence[int], viewer: int | None) -> dict[int, PostStats]: ...


async def comments_page(
    ids: Sequence[int], limit: int,
    bodies_of: Callable[[Sequence[int]], Awaitable[dict[int, CommentView]]],
) -> tuple[list[CommentView], Position | None]:  # fmt: skip
    """A comments page from up to `limit + 1` ids read oldest first past a cursor: the first
    `limit` hydrated (a comment deleted meanwhile left out), and where the next page starts
    (the last shown comment) when the extra id shows more remain. Every adapter's."""
    bodies = await bodies_of(ids[:limit])
    views = [bodies[cid] for cid in ids[:limit] if cid in bodies]
    more = len(ids) > limit
    return views, Position(views[-1].created_ms, views[-1].comment_id) if more and views else None
