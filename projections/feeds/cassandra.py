"""Cassandra adapter of the durable part of the feeds group: posts by id and author timelines
(writer for PutPost and SetTimeline, and PostReader). Home feeds and the celebrity set stay in
Redis: FeedAdd, FeedRemove and MarkCelebrity are not this adapter's writes and are ignored.

Tables (infra/cassandra/posts.cql): `posts` by id, one typed column per field, each cell written
at its event's timestamp ('' clears a field, as in Redis); `timeline_posts` (author, post:
present, published_ms) is the state of each timeline entry; `timelines` its sorted index, newest
first, keyset-paged by (published_ms, post_id). A removal carries no time: the writer reads the
entry's state to find the row (see cassandra_base). post_counts is COUNT(*) over the author's
timeline partition (a scan of the partition: O(posts) per author).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from projections.backends.cassandra import (
    CassandraStore,
    CassandraVersions,
    KeyspaceAdapter,
    Row,
    in_order,
    membership,
    write_timestamp,
)
from projections.feeds.ports import PostView
from projections.ports import Position
from projections.text import parse_mentions
from projections.writes import PutPost, SetTimeline, Write

GROUP = "feeds"
SCHEMA = "posts.cql"


def _flag(value: str) -> bool:
    return value == "1"


def _tags(value: str) -> list[str]:
    return value.split()


# PutPost field -> (posts column, how its text is stored)
FIELD_COLUMNS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "author_id": ("author_id", int),
    "caption": ("caption", str),
    "tags": ("tags", _tags),
    "thumbnail": ("variant_thumbnail", str),
    "feed": ("variant_feed", str),
    "full": ("variant_full", str),
    "width": ("width", int),
    "height": ("height", int),
    "blurhash": ("blurhash", str),
    "alt_text": ("alt_text", str),
    "published_ms": ("published_ms", int),
    "deleted": ("deleted", _flag),
    "mentions": ("mentions", str),
}
VARIANTS = {"thumbnail": "variant_thumbnail", "feed": "variant_feed", "full": "variant_full"}

PUT_POST = "UPDATE {ks}.posts USING TIMESTAMP ? SET {assignments} WHERE post_id = ?"
POST = (
    "SELECT post_id, author_id, caption, tags, variant_thumbnail, variant_feed, variant_full, "
    "width, height, blurhash, alt_text, published_ms, deleted, mentions FROM {ks}.posts "
    "WHERE post_id = ?"
)
ENTRY_STATE = (
    "SELECT present, WRITETIME(present) AS present_ts, published_ms, "
    "WRITETIME(published_ms) AS published_ms_ts FROM {ks}.timeline_posts "
    "WHERE author_id = ? AND post_id = ?"
)
ADD_ENTRY = (
    "UPDATE {ks}.timeline_posts USING TIMESTAMP ? SET present = true, published_ms = ? "
    "WHERE author_id = ? AND post_id = ?"
)
REMOVE_ENTRY = (
    "UPDATE {ks}.timeline_posts USING TIMESTAMP ? SET present = false "
    "WHERE author_id = ? AND post_id = ?"
)
INSERT_TIMELINE = (
    "INSERT INTO {ks}.timelines (author_id, published_ms, post_id) VALUES (?, ?, ?) "
    "USING TIMESTAMP ?"
)
DELETE_TIMELINE = (
    "DELETE FROM {ks}.timelines USING TIMESTAMP ? "
    "WHERE author_id = ? AND published_ms = ? AND post_id = ?"
)
TIMELINE_FIRST = "SELECT post_id, published_ms FROM {ks}.timelines WHERE author_id = ? LIMIT ?"
TIMELINE_AFTER = (
    "SELECT post_id, published_ms FROM {ks}.timelines "
    "WHERE author_id = ? AND (published_ms, post_id) < (?, ?) LIMIT ?"
)
COUNT_TIMELINE = "SELECT COUNT(*) AS n FROM {ks}.timelines WHERE author_id = ?"
STATEMENTS = (
    PUT_POST.replace("{assignments}", ", ".join(f"{c} = ?" for c, _ in FIELD_COLUMNS.values())),
    POST, ENTRY_STATE, ADD_ENTRY, REMOVE_ENTRY, INSERT_TIMELINE, DELETE_TIMELINE, TIMELINE_FIRST,
    TIMELINE_AFTER, COUNT_TIMELINE,
)  # fmt: skip


def versions(
    store: CassandraStore, replication: int = 1, prefix: str = "photofeed"
) -> CassandraVersions:
    """The posts/timelines keyspaces of the feeds group (photofeed_feeds_v<N>)."""
    return CassandraVersions(store, GROUP, SCHEMA, replication, prefix)


# --- writes and rows (pure) ----------------------------------------------------------------------
def post_cells(fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The posts columns a PutPost writes: '' clears the column (null), as it deletes the field
    in Redis. Fields with no column are not kept (PostView reads none of them)."""
    cells: dict[str, Any] = {}
    for name, value in fields:
        if name in FIELD_COLUMNS:
            column, convert = FIELD_COLUMNS[name]
            cells[column] = convert(value) if value != "" else None
    return cells


def post_view(post_id: int, row: Row | None) -> PostView | None:
    """A posts row as a PostView; None when unknown, deleted or without an author."""
    if row is None or row.get("deleted") or row.get("author_id") is None:
        return None
    return PostView(
        post_id=post_id, author_id=int(row["author_id"]), caption=row.get("caption") or "",
        tags=tuple(row.get("tags") or ()),
        variants={n: row[c] for n, c in VARIANTS.items() if row.get(c) is not None},
        width=int(row.get("width") or 0), height=int(row.get("height") or 0),
        blurhash=row.get("blurhash") or "", alt_text=row.get("alt_text") or None,
        published_ms=int(row.get("published_ms") or 0),
        mentions=parse_mentions(row.get("mentions") or ""),
    )  # fmt: skip


def timeline_rows(rows: Sequence[Row]) -> list[tuple[int, int]]:
    return [(int(r["post_id"]), int(r["published_ms"])) for r in rows]


# --- the adapter ---------------------------------------------------------------------------------
class CassandraPosts(KeyspaceAdapter):
    """One version of posts and timelines."""

    async def apply(self, writes: Sequence[Write]) -> None:
        """Post cells concurrently; each timeline entry's writes in order, entries concurrently."""
        cells: list[tuple[str, Sequence[object]]] = []
        entries: dict[tuple[int, int], list[SetTimeline]] = {}
        for w in writes:
            if isinstance(w, PutPost):
                values = post_cells(w.fields)
                if values:
                    assignments = ", ".join(f"{c} = ?" for c in values)
                    cql = self._q(PUT_POST).replace("{assignments}", assignments)
                    params = (write_timestamp(w.seq), *values.values(), w.post_id)
                    cells.append((cql, params))
            elif isinstance(w, SetTimeline):
                entries.setdefault((w.author_id, w.post_id), []).append(w)
        await asyncio.gather(self._s.run(cells), in_order(entries.values(), self._set_timeline))

    async def _set_timeline(self, w: SetTimeline) -> None:
        ts = write_timestamp(w.seq)
        row = await self._s.one(self._q(ENTRY_STATE), (w.author_id, w.post_id))
        moved = await self._move(
            membership(row, "present", "published_ms"), w.present, w.at_ms, ts,
            lambda old: [(self._q(DELETE_TIMELINE), (ts, w.author_id, old, w.post_id))],
            lambda new: [(self._q(INSERT_TIMELINE), (w.author_id, new, w.post_id, ts))],
        )  # fmt: skip
        if not moved:
            return  # an older or redelivered write
        if w.present:  # the state last: an interrupted write is redone whole
            await self._s.execute(self._q(ADD_ENTRY), (ts, w.at_ms, w.author_id, w.post_id))
        else:
            await self._s.execute(self._q(REMOVE_ENTRY), (ts, w.author_id, w.post_id))

    # --- reads -----------------------------------------------------------------------------------
    async def posts(self, ids: Sequence[int]) -> dict[int, PostView]:
        """Live posts by id; deleted and unknown ids are absent."""
        return await self._by_id(POST, ids, post_view)

    async def timeline_page(
        self, author_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        if limit <= 0:
            return []  # CQL refuses LIMIT 0
        if after is None:
            rows = await self._s.execute(self._q(TIMELINE_FIRST), (author_id, limit))
        else:
            params = (author_id, after.at_ms, after.id, limit)
            rows = await self._s.execute(self._q(TIMELINE_AFTER), params)
        return timeline_rows(rows)

    async def timeline_pages(
        self, authors: Sequence[int], limit: int, after: Position | None
    ) -> dict[int, list[tuple[int, int]]]:
        pages = await asyncio.gather(*(self.timeline_page(a, limit, after) for a in authors))
        return dict(zip(authors, pages, strict=True))

    async def post_counts(self, authors: Sequence[int]) -> dict[int, int]:
        rows = await asyncio.gather(*(self._s.one(self._q(COUNT_TIMELINE), (a,)) for a in authors))
        return {a: int(r["n"]) if r is not None else 0 for a, r in zip(authors, rows, strict=True)}
