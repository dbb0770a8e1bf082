"""Erasure of one user from every Redis projection group, at one version.

The goal is exact: afterwards each group holds what a replay of the log would build while
skipping the user's events (the opener drops them), so `photofeed replay` after an erasure
changes nothing. That means removing what the user's events produced — their profile, both sides
of their edges, their posts, timeline and pushed copies, their likes (counts and notification
entries included), their comments, the notifications they caused and received — and also the
tombstones that mention them. Every step is idempotent: a crashed erasure is simply run again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from projections.engagement import MAX_GROUP_ACTORS, MAX_NOTIFICATIONS
from projections.redis_batch import text
from projections.redis_engagement_scripts import ERASE_USER
from projections.redis_keys import EngagementKeys, FeedKeys, GraphKeys, PhotoKeys


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
        rows = await pipe.execute()
    ids = [sorted({int(text(x)) for x in a} | {int(text(x)) for x in b})
           for a, b in ((rows[0], rows[1]), (rows[2], rows[3]), (rows[4], rows[5]))]  # fmt: skip
    photo_ids = sorted(int(text(x)) for x in rows[6])
    async with redis.pipeline(transaction=False) as pipe:
        for photo in photo_ids:
            pipe.hget(p.photo(photo), "sha256")
        shas = sorted({text(s) for s in await pipe.execute() if s is not None})
    return ErasureFacts(ids[0], ids[1], ids[2], photo_ids, shas, comments)


async def erase_graph(redis: Redis, version: int, user: int, facts: ErasureFacts) -> None:
    k = GraphKeys(version)
    async with redis.pipeline(transaction=False) as pipe:
        for other in facts.followers:
            pipe.zrem(k.following(other), user)
            pipe.hdel(k.following_versions(other), str(user))
        for other in facts.following:
            pipe.zrem(k.followers(other), user)
            pipe.hdel(k.followers_versions(other), str(user))
        pipe.delete(k.user(user), k.followers(user), k.following(user),
                    k.followers_versions(user), k.following_versions(user))  # fmt: skip
        await pipe.execute()


async def erase_feeds(redis: Redis, version: int, user: int, facts: ErasureFacts) -> None:
    k = FeedKeys(version)
    async with redis.pipeline(transaction=False) as pipe:
        if facts.posts:
            for follower in facts.followers:
                pipe.zrem(k.feed(follower), *facts.posts)
            pipe.delete(*(k.post(post) for post in facts.posts))
        pipe.delete(k.timeline(user), k.timeline_versions(user), k.feed(user),
                    k.feed_trimmed(user))  # fmt: skip
        pipe.srem(k.celebrities(), user)
        await pipe.execute()


async def erase_engagement(redis: Redis, version: int, user: int, facts: ErasureFacts) -> None:
    """Likes and comments the user left (counts and the notifications they caused), follow
    notifications they caused, their inbox; their own posts lose the deletion mark a replay
    would never set (likes others left on them stay: those are the others' data)."""
    k = EngagementKeys(version)
    script = redis.register_script(ERASE_USER)
    args: list[str | int] = [MAX_NOTIFICATIONS, MAX_GROUP_ACTORS, k.prefix, user,
                             len(facts.following), *facts.following, *facts.posts]  # fmt: skip
    await script([], args)


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
ERASERS: dict[str, Eraser] = {
    "graph": erase_graph,
    "feeds": erase_feeds,
    "engagement": erase_engagement,
    "photos": erase_photos,
}  # projection group -> its eraser (search has its own port: SearchIndex.erase)
