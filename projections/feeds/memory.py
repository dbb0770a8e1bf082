"""In-memory adapter of the feeds group: its writer and FeedStore, in plain dicts.

For pure tests of what reads the feeds group (the read path in query.py, the sink) that should
not need a server. It keeps the Redis adapter's observable behaviour exactly, which
tests/contract checks by running the same suites over both: writes guarded by `seq` (tombstones
kept), pages newest first with equal times ordered as Redis orders equal scores (`order_key`),
feeds capped at `max_feed` with the `trimmed` mark, and a feed with no entries missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from projections.feeds.logic import MAX_FEED, post_view
from projections.feeds.ports import FeedState, PostView
from projections.feeds.query import Row, order_key
from projections.ports import Position
from projections.writes import (
    FeedAdd,
    FeedRemove,
    MarkCelebrity,
    PutPost,
    SetPostTags,
    SetTimeline,
    Write,
)


@dataclass
class _Post:
    seq: int
    fields: dict[str, str]


@dataclass
class _Timeline:
    rows: dict[int, int] = field(default_factory=dict)  # post -> ms, the live entries
    seqs: dict[int, int] = field(default_factory=dict)  # post -> last seq, tombstones included


class MemoryFeeds:
    """One version of the feeds group in memory. Not shared between processes; not bounded
    except by `max_feed` per home feed (timelines keep every post, as in Redis)."""

    def __init__(self, max_feed: int = MAX_FEED) -> None:
        self.max_feed = max_feed
        self._posts: dict[int, _Post] = {}
        self._timelines: dict[int, _Timeline] = {}
        self._feeds: dict[int, dict[int, int]] = {}  # user -> post -> ms; never empty
        self._trimmed: set[int] = set()
        self._celebrities: set[int] = set()
        self._post_tags: dict[int, tuple[int, tuple[str, ...]]] = {}  # post -> (seq, tags)
        self._tags: dict[str, dict[int, int]] = {}  # tag -> post -> ms; never empty

    # --- writes --------------------------------------------------------------------------------
    async def apply(self, writes: Sequence[Write]) -> None:
        for w in writes:
            if isinstance(w, PutPost):
                self._put_post(w)
            elif isinstance(w, SetTimeline):
                self._set_timeline(w)
            elif isinstance(w, SetPostTags):
                self._set_post_tags(w)
            elif isinstance(w, FeedAdd):
                for owner in w.owners:
                    feed = self._feeds.setdefault(owner, {})
                    feed[w.post_id] = w.at_ms
                    if self._trim(feed):
                        self._trimmed.add(owner)
            elif isinstance(w, FeedRemove):
                for owner, post in w.entries:
                    self._remove(owner, post)
            elif isinstance(w, MarkCelebrity):
                self._celebrities.add(w.user_id)

    def _put_post(self, w: PutPost) -> None:
        """Fields of a newer seq are set ('' deletes one); an older or equal seq is skipped."""
        post = self._posts.get(w.post_id)
        if post is not None and post.seq >= w.seq:
            return
        if post is None:
            post = self._posts[w.post_id] = _Post(w.seq, {})
        post.seq = w.seq
        for name, value in w.fields:
            if value == "":
                post.fields.pop(name, None)
            else:
                post.fields[name] = value

    def _set_timeline(self, w: SetTimeline) -> None:
        timeline = self._timelines.setdefault(w.author_id, _Timeline())
        if timeline.seqs.get(w.post_id, -1) >= w.seq:
            return
        timeline.seqs[w.post_id] = w.seq
        if w.present:
            timeline.rows[w.post_id] = w.at_ms
        else:
            timeline.rows.pop(w.post_id, None)

    def _set_post_tags(self, w: SetPostTags) -> None:
        """As feeds.lua set_post_tags: the recorded tags are left, then a publication joins its
        own; the record (seq, tags) stays after a deletion as its tombstone."""
        seq, old = self._post_tags.get(w.post_id, (-1, ()))
        if seq >= w.seq:
            return
        for tag in old:
            rows = self._tags.get(tag, {})
            rows.pop(w.post_id, None)
            if not rows:
                self._tags.pop(tag, None)
        for tag in w.tags if w.present else ():
            self._tags.setdefault(tag, {})[w.post_id] = w.at_ms
        self._post_tags[w.post_id] = (w.seq, w.tags if w.present else old)

    def _trim(self, feed: dict[int, int]) -> bool:
        """Keep the feed's `max_feed` newest entries; True when some were dropped."""
        excess = len(feed) - self.max_feed
        if excess <= 0:
            return False
        for post, _ in sorted(feed.items(), key=order_key)[:excess]:
            del feed[post]
        return True

    def _remove(self, owner: int, post: int) -> None:
        feed = self._feeds.get(owner)
        if feed is None:
            return
        feed.pop(post, None)
        if not feed:
            del self._feeds[owner]  # as in Redis: a feed with no entries is missing

    async def fill_feed(self, user_id: int, rows: Sequence[tuple[int, int]]) -> None:
        """Add (post, ms) rows to the feed (a rebuild), keeping its `max_feed` newest; as many
        rows as `max_feed` mark it trimmed (older history may exist). No rows: nothing."""
        if not rows:
            return
        feed = self._feeds.setdefault(user_id, {})
        feed.update(rows)
        self._trim(feed)
        if len(rows) >= self.max_feed:
            self._trimmed.add(user_id)

    # --- reads ---------------------------------------------------------------------------------
    async def celebrities(self) -> set[int]:
        return set(self._celebrities)

    async def feed_state(self, user_id: int) -> FeedState:
        return FeedState(user_id in self._feeds, user_id in self._trimmed)

    async def feed_page(
        self, user_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        return _page(self._feeds.get(user_id, {}), limit, after)

    async def timeline_page(
        self, author_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        return _page(self._timeline_rows(author_id), limit, after)

    async def tag_page(self, tag: str, limit: int, after: Position | None) -> list[tuple[int, int]]:
        return _page(self._tags.get(tag, {}), limit, after)

    async def timeline_pages(
        self, authors: Sequence[int], limit: int, after: Position | None
    ) -> dict[int, list[tuple[int, int]]]:
        return {a: _page(self._timeline_rows(a), limit, after) for a in authors}

    async def post_counts(self, authors: Sequence[int]) -> dict[int, int]:
        return {a: len(self._timeline_rows(a)) for a in authors}

    async def posts(self, ids: Sequence[int]) -> dict[int, PostView]:
        """Live posts by id; deleted and unknown ids are absent."""
        out = {}
        for post_id in ids:
            post = self._posts.get(post_id)
            view = None if post is None else post_view(post_id, post.fields)
            if view is not None:
                out[post_id] = view
        return out

    def _timeline_rows(self, author_id: int) -> Mapping[int, int]:
        timeline = self._timelines.get(author_id)
        return {} if timeline is None else timeline.rows


def _page(rows: Mapping[int, int], limit: int, after: Position | None) -> list[Row]:
    """Up to `limit` rows newest first, strictly after `after` in that order."""
    if limit <= 0:
        return []
    ordered = sorted(rows.items(), key=order_key, reverse=True)
    if after is not None:
        cut = (after.at_ms, str(after.id).encode())
        ordered = [row for row in ordered if order_key(row) < cut]
    return ordered[:limit]
