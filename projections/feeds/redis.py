"""Redis adapter of the feeds projection group: posts, author and tag timelines, home feeds,
celebrities."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.crc import key_slot

from projections.backends.redis_batch import (
    PAGE_BEFORE,
    CallBatch,
    FunctionCall,
    call_functions,
    page_args,
    page_before,
    page_rows,
    text,
)
from projections.feeds.keys import FeedKeys
from projections.feeds.logic import MAX_FEED, post_view
from projections.feeds.ports import FeedState, PostView
from projections.ports import Position
from projections.writes import (
    FeedAdd,
    FeedRemove,
    MarkCelebrity,
    PutPost,
    SetPostTags,
    SetTimeline,
    Write,
    seq_key,
)


class RedisFeeds:
    """One version of the feeds group in one Redis. Its writes are functions of
    photofeed_versioned (projections/backends/versioned.lua) and photofeed_feeds (feeds.lua
    beside it), its pages photofeed_pages'."""

    def __init__(
        self, redis: Redis, version: int, cluster: bool = False, max_feed: int = MAX_FEED
    ) -> None:
        self._r = redis
        self.max_feed = max_feed
        self._cluster = cluster
        self.keys = FeedKeys(version)

    # --- writes --------------------------------------------------------------------------------
    async def apply(self, writes: Sequence[Write]) -> None:
        """Fan-outs as they come (one call per hash slot on a cluster), then posts, then
        timelines and their stamps, then tag timelines: one round trip; then removals and
        celebrities: one more."""
        posts, timelines, stamps, tags = CallBatch(), CallBatch(), CallBatch(), CallBatch()
        k = self.keys
        calls: list[FunctionCall] = []
        removals: list[tuple[str, int]] = []
        celebrities: list[int] = []
        for w in writes:
            if isinstance(w, PutPost):
                flat = [x for pair in w.fields for x in pair]
                posts.add([k.post(w.post_id)], ["_v", seq_key(w.seq), len(w.fields), *flat])
            elif isinstance(w, SetTimeline):
                present = "1" if w.present else "0"
                timelines.add(
                    [k.timeline(w.author_id), k.timeline_versions(w.author_id)],
                    [w.post_id, w.at_ms, seq_key(w.seq), present],
                )
                stamps.add([k.timeline(w.author_id), k.timeline_stamp(w.author_id)],
                           [w.at_ms, present])  # fmt: skip
            elif isinstance(w, SetPostTags):
                tags.add(
                    [k.post_tags(w.post_id)],
                    [w.post_id, w.at_ms, seq_key(w.seq), "1" if w.present else "0", len(w.tags),
                     *w.tags],
                )  # fmt: skip
            elif isinstance(w, FeedAdd):
                for owners in self._slots(list(w.owners)):
                    keys = [key for o in owners for key in (k.feed(o), k.feed_trimmed(o))]
                    calls.append(("feed_add", keys, [w.post_id, w.at_ms, self.max_feed]))
            elif isinstance(w, FeedRemove):
                removals += [(k.feed(owner), post) for owner, post in w.entries]
            elif isinstance(w, MarkCelebrity):
                celebrities.append(w.user_id)
        calls += [("set_fields_if_newer", keys, args) for keys, args in posts.groups(self._cluster)]
        calls += [
            ("set_members_if_newer", keys, args) for keys, args in timelines.groups(self._cluster)
        ]
        # stamps after the timelines: a reader that sees a new stamp sees the new rows
        calls += [("bump_stamps", keys, args) for keys, args in stamps.groups(self._cluster)]
        tag_key = k.tag("%s")  # the function meets each tag's timeline as it reads the record
        calls += [("set_post_tags", keys, [tag_key, *args]) for keys, args in tags.groups(False)]
        await call_functions(self._r, calls)
        if removals or celebrities:
            async with self._r.pipeline(transaction=False) as pipe:
                for key, post in removals:
                    pipe.zrem(key, post)
                if celebrities:
                    pipe.sadd(k.celebrities(), *celebrities)
                await pipe.execute()

    def _slots(self, owners: list[int]) -> list[list[int]]:
        """Owners grouped so each function call touches one hash slot on a cluster."""
        if not self._cluster:
            return [owners]
        grouped: dict[int, list[int]] = {}
        for owner in owners:
            grouped.setdefault(key_slot(self.keys.feed(owner).encode()), []).append(owner)
        return list(grouped.values())

    async def fill_feed(self, user_id: int, rows: Sequence[tuple[int, int]]) -> None:
        """Create a feed from (post, ms) rows, newest first (a rebuild). Nothing to push leaves it
        missing: Redis keeps no empty sorted set, and reading a missing feed pulls, correctly."""
        if not rows:
            return
        key = self.keys.feed(user_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {str(post): ms for post, ms in rows})
            pipe.zremrangebyrank(key, 0, -(self.max_feed + 1))
            if len(rows) >= self.max_feed:
                pipe.set(self.keys.feed_trimmed(user_id), 1)
            await pipe.execute()

    # --- reads ---------------------------------------------------------------------------------
    async def celebrities(self) -> set[int]:
        return {int(x) for x in await self._r.smembers(self.keys.celebrities())}

    async def feed_state(self, user_id: int) -> FeedState:
        """Whether the pushed feed exists (new, evicted, never built: no) and lost history."""
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.exists(self.keys.feed(user_id))
            pipe.exists(self.keys.feed_trimmed(user_id))
            found, trimmed = await pipe.execute()
        return FeedState(bool(found), bool(trimmed))

    async def feed_page(
        self, user_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        return await page_before(self._r, self.keys.feed(user_id), limit, after)

    async def timeline_page(
        self, author_id: int, limit: int, after: Position | None
    ) -> list[tuple[int, int]]:
        return await page_before(self._r, self.keys.timeline(author_id), limit, after)

    async def tag_page(self, tag: str, limit: int, after: Position | None) -> list[tuple[int, int]]:
        """A tag's posts (a normalised tag), newest first, as (post id, ms) rows."""
        return await page_before(self._r, self.keys.tag(tag), limit, after)

    async def timeline_pages(
        self, authors: Sequence[int], limit: int, after: Position | None
    ) -> dict[int, list[tuple[int, int]]]:
        """Pages of many timelines in one round trip."""
        if not authors:
            return {}
        args = page_args(after, limit)
        async with self._r.pipeline(transaction=False) as pipe:
            for author in authors:
                pipe.fcall_ro(PAGE_BEFORE, 1, self.keys.timeline(author), *args)
            flats = await pipe.execute()
        return {a: page_rows(f) for a, f in zip(authors, flats, strict=True)}

    async def post_counts(self, authors: Sequence[int]) -> dict[int, int]:
        async with self._r.pipeline(transaction=False) as pipe:
            for author in authors:
                pipe.zcard(self.keys.timeline(author))
            counts = await pipe.execute()
        return dict(zip(authors, (int(c) for c in counts), strict=True))

    async def posts(self, ids: Sequence[int]) -> dict[int, PostView]:
        """Live posts by id; deleted and unknown ids are absent."""
        if not ids:
            return {}
        async with self._r.pipeline(transaction=False) as pipe:
            for post_id in ids:
                pipe.hgetall(self.keys.post(post_id))
            rows = await pipe.execute()
        out = {}
        for post_id, raw in zip(ids, rows, strict=True):
            view = post_view(post_id, {text(k): text(v) for k, v in raw.items()})
            if view is not None:
                out[post_id] = view
        return out
