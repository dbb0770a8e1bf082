"""The ports every projection backend implements (Redis embedded; Cassandra at scale).

Reads are shaped like CQL tables: a partition key (the user) and a clustering order (newest first,
then id), paged by the clustering key of the last row, never by offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from projections.search import SearchCursor, SearchHit, SearchQuery
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


@dataclass(frozen=True, slots=True)
class FeedState:
    exists: bool
    trimmed: bool  # older entries were dropped at the cap: history continues in timelines


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


@dataclass(frozen=True, slots=True)
class Notice:
    group: str  # like:<post> | comment:<post>:<comment> | follow:<day>
    newest_id: int  # the event id of the newest activity: the notification's id
    at_ms: int  # when the newest remaining actor acted
    actors: list[int]  # newest first, at most SHOWN_ACTORS
    actor_count: int
    read: bool


@dataclass(frozen=True, slots=True)
class NoticePage:
    items: list[Notice]
    next: tuple[int, str] | None  # (ms, group) of the last row when more remain


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


class SearchVersions(Protocol):
    """Every version of the search index: one per version, compared, dropped, activated."""

    def at(self, version: int) -> SearchIndex: ...

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]: ...

    async def drop(self, version: int) -> int: ...

    async def activate(self, version: int) -> None: ...


class FeedStore(PostReader, Protocol):
    """What the feed read path and the gateway use of the feeds group: posts and timelines, and
    the home feeds with the celebrity set."""

    max_feed: int

    async def celebrities(self) -> set[int]: ...

    async def feed_state(self, user_id: int) -> FeedState: ...

    async def feed_page(
        self, user_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]: ...

    async def fill_feed(self, user_id: int, rows: Sequence[tuple[int, int]]) -> None: ...


class EngagementStore(CommentReader, NotificationReader, Protocol):
    """Counts and the viewer's likes for a page of posts, comments and notifications."""

    async def stats(self, post_ids: Sequence[int], viewer: int | None) -> dict[int, PostStats]: ...
