"""Erasure of one user from every Redis projection group, at one version.

The goal is exact: afterwards each group holds what a replay of the log would build while
skipping the user's events (the opener drops them), so `photofeed replay` after an erasure
changes nothing. That means removing what the user's events produced — their profile, both sides
of their edges, their posts, timeline and pushed copies, their likes (counts and notification
entries included), their comments, the notifications they caused and received — and also the
tombstones that mention them. Every step is idempotent: a crashed erasure is simply run again.

Deleted keys still live in Valkey's files: the append-only file records every write (the
caption, the comment text, the data key's bytes) until it is rewritten, and a snapshot (RDB)
holds what was there when it was taken. `rewrite_persistence`, run after the last Valkey step,
rewrites both from the dataset as it is now. Valkey 9's multi-part AOF (`appendonlydir/`: a
base file and incremental files) drops the old base and incremental files once the rewrite is
done (measured: gone by the time INFO reports it finished).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from projections.backends.keys import template
from projections.backends.redis_batch import text
from projections.engagement.keys import EngagementKeys
from projections.engagement.logic import MAX_BUNDLE_ACTORS, MAX_NOTIFICATIONS
from projections.feeds.keys import FeedKeys
from projections.graph.keys import GraphKeys
from projections.groups import Group
from projections.photos.keys import PhotoKeys


@dataclass(frozen=True)
class ErasureFacts:
    """What the user's erasure must reach, gathered once before anything is removed (so a
    resumed erasure still knows it after the first steps deleted the sources)."""

    followers: list[int]  # everyone with an edge (or a tombstone) towards the user
    following: list[int]  # everyone the user has an edge (or a tombstone) towards
    posts: list[int]  # every post the user published, deleted ones included
    photos: list[int]  # every photo the user uploaded, published or not
    contents: list[str]  # sha256 of what those photos show (variants shared by content)
    comments: list[list[int]] = field(default_factory=list)  # [comment, post, post author]
    related: list[int] = field(default_factory=list)  # blocks and mutes either way (tombstones too)
    requests: list[int] = field(default_factory=list)  # follow requests either way (answers too)


async def gather_facts(
    redis: Redis, user: int, graph: int, feeds: int, photos: int, engagement: int
) -> ErasureFacts:
    """The facts, read from the given versions of the graph, feeds, photos and engagement
    groups (the comment index stays in Valkey whichever store serves comments)."""
    g, f, p = GraphKeys(graph), FeedKeys(feeds), PhotoKeys(photos)
    written = await redis.hgetall(EngagementKeys(engagement).written(user))
    comments = sorted([int(text(c)), *map(int, text(v).split("|"))] for c, v in written.items())
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hkeys(g.followers_versions(user))
        pipe.zrange(g.followers(user), 0, -1)
        pipe.hkeys(g.following_versions(user))
        pipe.zrange(g.following(user), 0, -1)
        pipe.hkeys(f.timeline_versions(user))
        pipe.zrange(f.timeline(user), 0, -1)
        pipe.smembers(p.owned(user))
        for versions in (g.blocks_versions, g.blocked_by_versions, g.mutes_versions,
                         g.muted_by_versions):  # fmt: skip
            pipe.hkeys(versions(user))
        rows = await pipe.execute()
    ids = [sorted({int(text(x)) for x in a} | {int(text(x)) for x in b})
           for a, b in ((rows[0], rows[1]), (rows[2], rows[3]), (rows[4], rows[5]))]  # fmt: skip
    photo_ids = sorted(int(text(x)) for x in rows[6])
    related = sorted({int(text(x)) for keys in rows[7:] for x in keys})
    async with redis.pipeline(transaction=False) as pipe:
        for photo in photo_ids:
            pipe.hget(p.photo(photo), "sha256")
        shas = sorted({text(s) for s in await pipe.execute() if s is not None})
    async with redis.pipeline(transaction=False) as pipe:  # follow requests either way
        pipe.hkeys(g.request_records(user))
        pipe.hkeys(g.request_answers(user))
        pipe.smembers(g.requested(user))
        asked = sorted({int(text(x)) for keys in await pipe.execute() for x in keys})
    return ErasureFacts(ids[0], ids[1], ids[2], photo_ids, shas, comments, related, asked)


async def erase_graph(redis: Redis, version: int, user: int, facts: ErasureFacts) -> None:
    k = GraphKeys(version)
    async with redis.pipeline(transaction=False) as pipe:
        for other in facts.followers:
            pipe.zrem(k.following(other), user)
            pipe.hdel(k.following_versions(other), str(user))
            pipe.srem(k.celebrities_followed(other), user)
        for other in facts.following:
            pipe.zrem(k.followers(other), user)
            pipe.hdel(k.followers_versions(other), str(user))
        for other in facts.related:  # each block and mute is kept on both sides
            for zset, versions in ((k.blocks, k.blocks_versions),
                                   (k.blocked_by, k.blocked_by_versions),
                                   (k.mutes, k.mutes_versions),
                                   (k.muted_by, k.muted_by_versions)):  # fmt: skip
                pipe.zrem(zset(other), user)
                pipe.hdel(versions(other), str(user))
        for other in facts.requests:  # the user's requests to others, others' to the user
            for owners_hash in (k.request_records, k.request_answers):
                pipe.hdel(owners_hash(other), str(user))
            pipe.zrem(k.requests(other), user)
            pipe.srem(k.requested(other), user)
        pipe.delete(k.requests(user), k.request_records(user), k.request_answers(user),
                    k.requested(user), k.privacy(user))  # fmt: skip
        pipe.delete(k.user(user), k.followers(user), k.following(user),
                    k.followers_versions(user), k.following_versions(user),
                    k.celebrities_followed(user), k.blocks(user), k.blocks_versions(user),
                    k.blocked_by(user), k.blocked_by_versions(user), k.mutes(user),
                    k.mutes_versions(user), k.muted_by(user),
                    k.muted_by_versions(user))  # fmt: skip
        pipe.srem(k.celebrities(), user)
        await pipe.execute()


async def erase_feeds(redis: Redis, version: int, user: int, facts: ErasureFacts) -> None:
    """Their posts leave followers' feeds and their tags' timelines (as recorded per post), then
    go; their timeline, feed and caches go."""
    k = FeedKeys(version)
    if facts.posts:
        async with redis.pipeline(transaction=False) as pipe:
            for post in facts.posts:
                pipe.hget(k.post_tags(post), "tags")
            recorded = await pipe.execute()
        async with redis.pipeline(transaction=False) as pipe:  # records last: a rerun finds them
            for post, tags in zip(facts.posts, recorded, strict=True):
                for tag in text(tags or b"").split():
                    pipe.zrem(k.tag(tag), post)
            pipe.delete(*(k.post_tags(post) for post in facts.posts))
            await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for follower in facts.followers:  # deep-scroll and pull caches name the user's posts
            pipe.delete(k.frontier(follower), k.deep_meta(follower), k.deep(follower),
                        k.pull(follower), k.pull_meta(follower))  # fmt: skip
        if facts.posts:
            for follower in facts.followers:
                pipe.zrem(k.feed(follower), *facts.posts)
            pipe.delete(*(k.post(post) for post in facts.posts))
        pipe.delete(k.timeline(user), k.timeline_versions(user), k.feed(user), k.feed_trimmed(user),
                    k.timeline_stamp(user), k.frontier(user), k.deep_meta(user), k.deep(user),
                    k.pull(user), k.pull_meta(user))  # fmt: skip
        pipe.srem(k.celebrities(), user)
        await pipe.execute()


async def erase_engagement(redis: Redis, version: int, user: int, facts: ErasureFacts) -> None:
    """Likes and comments the user left (counts and the notifications they caused), follow
    notifications and mentions they caused, their inbox; their own posts lose the deletion mark
    and the mentions a replay would never set (likes and comments others left on them stay:
    those are the others' data). One call of photofeed_engagement's erase_user
    (projections/engagement/engagement.lua)."""
    k = EngagementKeys(version)
    keys = [k.liked(user), k.written(user), k.follow_notices(user), k.inbox(user),
            k.inbox_meta(user)]  # fmt: skip
    for followee in facts.following:
        keys += [k.follow_notices(followee), k.inbox(followee), k.inbox_meta(followee)]
    keys += [k.post(post) for post in facts.posts]
    # templates of the keys it meets as it reads: the posts liked and commented on, the comments,
    # those posts' authors
    met = (k.post, k.comments, k.comments_versions, k.comment, k.inbox, k.inbox_meta,
           k.bundle_prefix)  # fmt: skip
    args: list[str | int] = [MAX_NOTIFICATIONS, MAX_BUNDLE_ACTORS, user, len(facts.following),
                             *facts.following, *(template(key_of) for key_of in met),
                             *facts.posts]  # fmt: skip
    await redis.fcall("erase_user", len(keys), *keys, *args)


async def erase_photos(redis: Redis, version: int, user: int, facts: ErasureFacts) -> None:
    """Drop the user's photos from the photos group; content no photo references any more leaves
    the index, as a replay without the user's uploads would leave it (the media step then deletes
    its variants)."""
    if not facts.photos:
        await redis.delete(PhotoKeys(version).owned(user))
        return
    k = PhotoKeys(version)
    async with redis.pipeline(transaction=False) as pipe:
        for sha in facts.contents:
            pipe.srem(k.content_refs(sha), *facts.photos)
        pipe.delete(k.owned(user), *(k.photo(photo) for photo in facts.photos))
        await pipe.execute()
    for sha in facts.contents:
        if await redis.scard(k.content_refs(sha)) == 0:
            await redis.delete(k.content(sha))


Eraser = Callable[[Redis, int, int, ErasureFacts], Awaitable[None]]
ERASERS: dict[Group, Eraser] = {
    Group.GRAPH: erase_graph,
    Group.FEEDS: erase_feeds,
    Group.ENGAGEMENT: erase_engagement,
    Group.PHOTOS: erase_photos,
}  # projection group -> its eraser (search has its own port: SearchIndex.erase)


# --- Valkey's own files --------------------------------------------------------------------------
PERSISTENCE_TIMEOUT_S = 600.0  # a job forks and writes the whole dataset once (measured here: a
# rewrite 3.8 s, a snapshot 3.2 s for 1.1 GB): room for ~80 GB, far above any local dataset
PERSISTENCE_POLL_S = 0.05  # between INFO reads while a rewrite runs


class PersistenceNotRewritten(TimeoutError):
    """A rewrite or snapshot failed or ran past its deadline: an outage of Valkey, retried."""


@dataclass(frozen=True)
class BackgroundJob:
    """One of Valkey's forked persistence jobs, as INFO persistence reports it."""

    command: str
    done: str  # what it achieved, for the receipt
    start: Callable[[Redis], Awaitable[Any]]
    started: str  # counter of jobs started since Valkey started
    busy: tuple[str, ...]  # flags set while one runs or waits to run
    status: str  # 'ok' or 'err': how the last one ended


AOF_REWRITE = BackgroundJob(
    "BGREWRITEAOF", "append-only file rewritten", lambda r: r.bgrewriteaof(), "aof_rewrites",
    ("aof_rewrite_in_progress", "aof_rewrite_scheduled"), "aof_last_bgrewrite_status",
)  # fmt: skip
RDB_SAVE = BackgroundJob(
    "BGSAVE", "snapshot saved", lambda r: r.bgsave(schedule=True), "rdb_saves",
    ("rdb_bgsave_in_progress",), "rdb_last_bgsave_status",
)  # fmt: skip


async def rewrite_persistence(redis: Redis, timeout_s: float = PERSISTENCE_TIMEOUT_S) -> str:
    """Rewrite the append-only file (when enabled) and the snapshot (when snapshots are taken)
    from the current dataset, and wait until both are done; say what was done and how long it
    took. Whatever was deleted before this call is in neither file afterwards. A Valkey that
    refuses the command (a managed service) is reported, not retried: its files are its
    operator's. Raises PersistenceNotRewritten when a job fails or outlasts `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    info = await redis.info("persistence")
    jobs = [AOF_REWRITE] if int(info.get("aof_enabled", 0)) else []
    if await _snapshots_taken(redis, info):
        jobs.append(RDB_SAVE)
    done = [await _run(redis, job, deadline) for job in jobs]
    return ", ".join(done) or "nothing persisted"


async def _snapshots_taken(redis: Redis, info: dict[str, Any]) -> bool:
    """Whether an RDB file exists or will: one was saved since start, or saving is configured."""
    if int(info.get("rdb_saves", 0)) > 0:
        return True
    try:
        save = (await redis.config_get("save")).get("save", "")
    except ResponseError:
        return True  # CONFIG is refused: a snapshot may exist
    return bool(str(save).strip())


async def _run(redis: Redis, job: BackgroundJob, deadline: float) -> str:
    """Start `job` once no earlier one runs (that one may have started before the deletions),
    then wait until one started after that point has finished."""
    t0 = time.monotonic()
    idle = await _poll(redis, deadline, lambda i: not any(int(i.get(f, 0)) for f in job.busy))
    before = int(idle[job.started])
    try:
        await job.start(redis)
    except ResponseError as exc:
        if "in progress" not in str(exc):
            return f"{job.command} refused by Valkey ({exc})"
        # another one started after `idle`: it serves as well
    ended = await _poll(redis, deadline, lambda i: int(i[job.started]) > before
                        and not any(int(i.get(f, 0)) for f in job.busy))  # fmt: skip
    if ended[job.status] != "ok":
        raise PersistenceNotRewritten(f"{job.command}: Valkey reports {ended[job.status]}")
    return f"{job.done} in {time.monotonic() - t0:.2f} s"


async def _poll(
    redis: Redis, deadline: float, accept: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    while True:
        info: dict[str, Any] = await redis.info("persistence")
        if accept(info):
            return info
        if time.monotonic() > deadline:
            raise PersistenceNotRewritten(f"Valkey persistence still busy: {info}")
        await asyncio.sleep(PERSISTENCE_POLL_S)
