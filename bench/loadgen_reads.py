"""Preparing the read benchmarks on a seeded world: accounts and tokens, the walked cursor chains
and request sets per endpoint, the bare pages stored for the bare app, and the feed memory figure.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import cast

import httpx
from redis.asyncio import Redis

from bench.loadgen import Target
from bench.loadgen_pages import FEED, Pages, feed_targets, get, spread_targets, walk
from bench.loadgen_seed import FEED_PAGES, PAGE, World
from gateway.accounts import Account, RedisAccountStore, hash_password
from gateway.tokens import TokenSigner
from infra.settings import Settings
from projections.feeds.keys import FeedKeys
from projections.groups import Group
from projections.versions.redis import RedisVersions

API = "/api/v1"
FEED_REQUESTS = 4000  # distinct feed requests, cycled by the load generator
OTHER_REQUESTS = 2000  # per other endpoint
PROFILES, SINGLE_POSTS = 50, 200  # distinct profile grids and posts requested
TOKEN_TTL_S = 4 * 3600  # outlives any run
BARE_ZSET = "bench:bare:feed"  # the listpack twin of a real feed (memory figure)
LISTPACK_ENTRIES = "zset-max-listpack-entries"  # raised for the twin's creation, then restored


@dataclass(slots=True)
class ReadTargets:
    """Request sets per endpoint, and the median size of each endpoint's pages."""

    feed: list[Target]
    others: list[tuple[str, list[Target]]] = field(default_factory=list)  # (figure, requests)
    page_bytes: dict[str, float] = field(default_factory=dict)  # figure -> median body size


async def sign_in(settings: Settings, world: World) -> dict[int, str]:
    """Accounts (the command side, as POST /users leaves them; one argon2 hash shared) and a
    token each for every viewer, the heavy viewer and the showcase authors."""
    redis = Redis.from_url(settings.redis)
    accounts = RedisAccountStore(redis)
    password_hash = await hash_password("bench password")
    signer = TokenSigner(settings.secret(), TOKEN_TTL_S)
    users = {*world.viewers, world.heavy, *(author for _, author in world.showcase)}
    tokens = {}
    for user in sorted(users):
        await accounts.reserve(Account(user, f"bench{user}", password_hash))
        account = await accounts.by_id(user)
        assert account is not None, user
        tokens[user] = signer.issue(user, int(time.time()), epoch=account.changed_at)[0]
    await redis.aclose()
    return tokens


async def prepare(settings: Settings, world: World, tokens: dict[int, str]) -> ReadTargets:
    """Walk every cohort's feed (and the heavy viewer's) FEED_PAGES deep, read each other
    request once, store the bare pages; every answer must be a 200."""
    rng = random.Random(5)
    pages = Pages()
    viewer_tokens = [tokens[v] for v in world.viewers]
    paths = {
        "profile_grid_pages_per_s": [
            f"{API}/users/{a}/posts?limit={PAGE}" for a in world.pool[:PROFILES]
        ],
        "single_post_per_s": [f"{API}/posts/{p}" for p in rng.sample(world.posts, SINGLE_POSTS)],
        "comments_pages_per_s": [
            f"{API}/posts/{p}/comments?limit={PAGE}" for p, _ in world.showcase
        ],
    }
    notifications = f"{API}/notifications?limit={PAGE}"
    authors = [tokens[author] for _, author in world.showcase]
    sizes: dict[str, list[int]] = {}
    async with httpx.AsyncClient(base_url=settings.gateway_url, timeout=60) as client:

        async def read(figure: str, path: str, token: str) -> None:
            sizes.setdefault(figure, []).append(len(await get(client, pages, path, token)))

        chains = await asyncio.gather(
            *(walk(client, pages, FEED, tokens[c[0]], FEED_PAGES) for c in world.cohorts),
            walk(client, pages, FEED, tokens[world.heavy], FEED_PAGES),
        )
        for figure, listed in paths.items():
            await asyncio.gather(*(read(figure, p, rng.choice(viewer_tokens)) for p in listed))
        await asyncio.gather(
            *(read("notifications_pages_per_s", notifications, t) for t in authors)
        )
    redis = Redis.from_url(settings.redis)
    await pages.store_bare(redis)
    await redis.aclose()
    feed = feed_targets(world, tokens, list(chains[:-1]), chains[-1], FEED_REQUESTS)
    reads = ReadTargets(feed, page_bytes={"feed": float(statistics.median(pages.sizes(FEED)))})
    for figure, listed in paths.items():
        reads.others.append((figure, spread_targets(listed, viewer_tokens, figure, OTHER_REQUESTS)))
    reads.others.append(
        ("notifications_pages_per_s", spread_targets([notifications], authors, "n", OTHER_REQUESTS))
    )
    reads.page_bytes |= {figure: float(statistics.median(s)) for figure, s in sizes.items()}
    return reads


async def feed_bytes(settings: Settings, viewer: int) -> tuple[float, float, int]:
    """(bytes per entry of `viewer`'s feed key, bytes per entry of a zset with the same members
    and scores built as a listpack in the same Valkey, entries); MEMORY USAGE of each."""
    redis = Redis.from_url(settings.redis)
    try:
        key = FeedKeys(await RedisVersions(redis).active(Group.FEEDS)).feed(viewer)
        if (kind := await redis.type(key)) != b"zset":
            raise RuntimeError(f"{key} is a {kind!r}, not the zset this figure reads")
        rows = cast(list[tuple[bytes, float]], await redis.zrange(key, 0, -1, withscores=True))
        used = await redis.memory_usage(key, samples=0)
        limit = str((await redis.config_get(LISTPACK_ENTRIES))[LISTPACK_ENTRIES])
        await redis.config_set(LISTPACK_ENTRIES, max(int(limit), len(rows)))
        try:
            await redis.delete(BARE_ZSET)
            await redis.zadd(BARE_ZSET, {member: score for member, score in rows})
            encoding = await redis.object("encoding", BARE_ZSET)
            bare = await redis.memory_usage(BARE_ZSET, samples=0)
        finally:
            await redis.config_set(LISTPACK_ENTRIES, limit)
            await redis.delete(BARE_ZSET)
        if encoding != b"listpack" or not rows or used is None or bare is None:
            raise RuntimeError(f"no listpack twin of {key} ({encoding!r}, {len(rows)} entries)")
        return used / len(rows), bare / len(rows), len(rows)
    finally:
        await redis.aclose()
