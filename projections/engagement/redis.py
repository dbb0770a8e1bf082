"""Redis adapter of the engagement group: likes, comments, counts and notifications.

Where likes live, and why. A post's likers are NOT kept on the post: a viral post would grow one
key without bound (tens of millions of members, ~80 B each in a hashtable, all on one shard).
Each like is kept on the liker's side instead (`liked` hash: post -> flag + version + author), so:
- a post holds O(1) like state: its count, changed in the same atomic script that flips the
  membership, so the count equals the number of "liked" entries whatever is redelivered;
- `liked_by_viewer` stays exact for any post, however hot, and a whole page's counts and likes
  are one script call; every user's hash is small (bounded by what they liked), listpacked;
- like notifications keep only the newest MAX_BUNDLE_ACTORS actors plus an exact count.
The memory a like costs is ~30 B on its liker; nothing scales with one post's popularity.
The price: the function touches the liker's, the post's and the author's keys, which one Valkey
(the embedded default) applies atomically; a Redis Cluster deployment keeps this group on one
shard, or moves it to the Cassandra adapters. The functions are the library photofeed_engagement
(engagement.lua beside this module); the pages are photofeed_pages'.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from projections.backends.keys import template
from projections.backends.redis_batch import (
    PAGE_AFTER,
    PAGE_BEFORE,
    CallBatch,
    FunctionCall,
    call_functions,
    text,
)
from projections.engagement.keys import EngagementKeys
from projections.engagement.logic import (
    MAX_BUNDLE_ACTORS,
    MAX_NOTIFICATIONS,
    SHOWN_ACTORS,
    comment_bundle,
    comment_bundles_prefix,
    follow_bundle,
    like_bundle,
    like_runs,
)
from projections.engagement.ports import CommentView, Notice, NoticePage, PostStats, comments_page
from projections.ports import Position
from projections.text import parse_mentions
from projections.writes import (
    PostGone,
    PostMentions,
    ReadNotifications,
    SetComment,
    SetFollowNotice,
    SetLike,
    Write,
    seq_key,
)


class RedisEngagement:
    def __init__(self, redis: Redis, version: int) -> None:
        self._r = redis
        self.version = version
        self.keys = k = EngagementKeys(version)
        # set_likes meets its posts, likers and authors as it goes: their key templates
        self._like_keys: list[str | int] = [
            template(k.post), template(k.liked), template(k.inbox), template(k.inbox_meta),
            template(k.bundle_prefix),
        ]  # fmt: skip
        # the functions that tell mentioned users meet them as they go: their keys' templates
        self._recipients: list[str | int] = [
            template(k.inbox),
            template(k.inbox_meta),
            template(k.bundle_prefix),
        ]

    # --- writes --------------------------------------------------------------------------------
    async def apply(self, writes: Sequence[Write]) -> None:
        """One function call per kind of write, all in one round trip; kinds touch disjoint state
        except the inbox, whose operations commute (counts, and the newest remaining actors).
        Likes go first, collapsed per (liker, post) (projections.engagement.logic.like_runs)."""
        await self.prepare(writes)()

    def prepare(self, writes: Sequence[Write]) -> Callable[[], Coroutine[Any, Any, None]]:
        """`apply`'s calls, built now (CPU only) and sent when the result is called: a rebuild
        builds the next batch's while the store applies this one's."""
        # in this order: a post's mentions before its deletion in the same batch
        batches = {
            name: CallBatch()
            for name in ("set_comments", "set_post_mentions", "set_follow_notices", "post_gone")
        }
        told = {"set_comments", "set_post_mentions", "post_gone"}  # take the recipients' keys
        likes: list[SetLike] = []
        reads = CallBatch()
        for w in writes:
            if isinstance(w, SetLike):
                likes.append(w)
            elif isinstance(w, SetComment):
                batches["set_comments"].add(*self._comment_entry(w))
            elif isinstance(w, PostMentions):
                batches["set_post_mentions"].add(
                    [self.keys.post(w.post_id)],
                    [w.post_id, w.author_id, w.at_ms, seq_key(w.seq), _ids(w.recipients),
                     _ids(w.notify)],
                )  # fmt: skip
            elif isinstance(w, SetFollowNotice):
                batches["set_follow_notices"].add(*self._follow_entry(w))
            elif isinstance(w, ReadNotifications):
                reads.add([self.keys.inbox_meta(w.user_id)], [seq_key(w.up_to_id)])
            elif isinstance(w, PostGone):
                batches["post_gone"].add(*self._gone_entry(w))
        caps: list[str | int] = [MAX_NOTIFICATIONS, MAX_BUNDLE_ACTORS]
        calls: list[FunctionCall] = []
        if likes:
            calls.append(("set_likes", [], [*caps, *self._like_keys, *_like_args(likes)]))
        for name, batch in batches.items():
            head = [*caps, *self._recipients] if name in told else caps
            calls += [(name, keys, [*head, *args]) for keys, args in batch.groups(False)]
        calls += [("read_up_to", keys, args) for keys, args in reads.groups(False)]
        return functools.partial(self._send, calls)

    async def _send(self, calls: Sequence[FunctionCall]) -> None:
        await call_functions(self._r, calls)

    def _comment_entry(self, w: SetComment) -> tuple[list[str], list[str | int]]:
        k = self.keys
        keys = [k.comment(w.comment_id), k.comments(w.post_id), k.comments_versions(w.post_id),
                k.post(w.post_id), k.inbox(w.author_id), k.inbox_meta(w.author_id),
                k.written(w.commenter_id)]  # fmt: skip
        args: list[str | int] = [
            w.comment_id, seq_key(w.seq), "1" if w.present else "0", w.at_ms, w.post_id,
            w.commenter_id, w.text, comment_bundle(w.post_id, w.comment_id),
            "1" if w.notify else "0", k.bundle_prefix(w.author_id), w.author_id, w.mentions,
            _ids(w.notify_mentions),
        ]  # fmt: skip
        return keys, args

    def _follow_entry(self, w: SetFollowNotice) -> tuple[list[str], list[str | int]]:
        k, user = self.keys, w.followee_id
        keys = [k.follow_notices(user), k.inbox(user), k.inbox_meta(user)]
        args: list[str | int] = [
            w.follower_id, seq_key(w.seq), "1" if w.present else "0", w.at_ms,
            follow_bundle(w.at_ms), k.bundle_prefix(user),
        ]  # fmt: skip
        return keys, args

    def _gone_entry(self, w: PostGone) -> tuple[list[str], list[str | int]]:
        k, user = self.keys, w.author_id
        keys = [k.post(w.post_id), k.comments(w.post_id), k.inbox(user), k.inbox_meta(user)]
        groups = [like_bundle(w.post_id), comment_bundles_prefix(w.post_id)]
        return keys, [*groups, k.bundle_prefix(user), w.post_id]

    # --- reads ---------------------------------------------------------------------------------
    async def stats(self, post_ids: Sequence[int], viewer: int | None) -> dict[int, PostStats]:
        """Counts of a page of posts and whether the viewer liked each: one function call."""
        if not post_ids:
            return {}
        k = self.keys
        keys = ["" if viewer is None else k.liked(viewer)]
        for post in post_ids:
            keys += [k.post(post), k.comments(post)]
        flat = await self._r.fcall_ro("post_stats", len(keys), *keys, *post_ids)
        return {
            post: PostStats(int(flat[3 * i]), int(flat[3 * i + 1]), bool(flat[3 * i + 2]))
            for i, post in enumerate(post_ids)
        }

    async def comment(self, comment_id: int) -> CommentView | None:
        """A live comment; deleted and unknown ones are None."""
        return (await self.comments_by_id([comment_id])).get(comment_id)

    async def comments_by_id(self, ids: Sequence[int]) -> dict[int, CommentView]:
        """Live comments by id, in one round trip; deleted and unknown ids are absent."""
        async with self._r.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hgetall(self.keys.comment(cid))
            bodies = await pipe.execute()
        found = (_comment(cid, raw) for cid, raw in zip(ids, bodies, strict=True))
        return {v.comment_id: v for v in found if v is not None}

    async def comments(
        self, post_id: int, limit: int, after: Position | None
    ) -> tuple[list[CommentView], Position | None]:
        """A page of a post's comments, oldest first, strictly after `after`."""
        args: list[str | int] = (
            ["-inf", "", limit + 1] if after is None else [after.at_ms, str(after.id), limit + 1]
        )
        flat = await self._r.fcall_ro(PAGE_AFTER, 1, self.keys.comments(post_id), *args)
        ids = [int(flat[i]) for i in range(0, len(flat), 2)]
        return await comments_page(ids, limit, self.comments_by_id)

    async def notifications(
        self, user_id: int, limit: int, after: tuple[int, str] | None
    ) -> NoticePage:
        """The user's notifications, newest activity first, strictly after `after`."""
        k = self.keys
        args: list[str | int] = ["+inf", "", limit + 1] if after is None else [*after, limit + 1]
        flat = await self._r.fcall_ro(PAGE_BEFORE, 1, k.inbox(user_id), *args)
        rows = [(text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
        page = rows[:limit]
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hget(k.inbox_meta(user_id), "read")
            for group, _ in page:
                pipe.hmget(k.inbox_meta(user_id), [f"{group}|n", f"{group}|id"])
                pipe.zrevrange(k.bundle_prefix(user_id) + group, 0, SHOWN_ACTORS - 1)
            replies = await pipe.execute()
        read_up_to = int(replies[0] or 0)
        items = []
        for i, (group, ms) in enumerate(page):
            (count, newest), actors = replies[1 + 2 * i], replies[2 + 2 * i]
            newest_id = int(newest or 0)
            items.append(
                Notice(group, newest_id, ms, [int(a) for a in actors], int(count or 0),
                       newest_id <= read_up_to)
            )  # fmt: skip
        nxt = (page[-1][1], page[-1][0]) if len(rows) > limit and page else None
        return NoticePage(items, nxt)


def _like_args(likes: Sequence[SetLike]) -> list[str | int]:
    """set_likes's ARGV per run: post, author, liker, notify, step count, then the steps."""
    out: list[str | int] = []
    for run in like_runs(likes):
        out += [
            run.post_id,
            run.author_id,
            run.liker_id,
            "1" if run.notify else "0",
            len(run.steps),
        ]
        for version, liked, at_ms in run.steps:
            out += [seq_key(version), "1" if liked else "0", at_ms]
    return out


def _ids(users: Sequence[int]) -> str:
    return " ".join(map(str, users))


def _comment(comment_id: int, raw: Mapping[Any, Any]) -> CommentView | None:
    h = {text(k): text(v) for k, v in raw.items()}
    if not h or h.get("deleted") == "1" or "text" not in h:
        return None
    return CommentView(
        comment_id,
        int(h["post_id"]),
        int(h["commenter_id"]),
        h["text"],
        int(h["created_ms"]),
        parse_mentions(h.get("mentions", "")),
    )
