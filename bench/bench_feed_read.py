"""`GET /feed` throughput per gateway process vs a bare redis-py loop doing the same reads, the p99
at 70% of that maximum load, and Redis bytes per feed entry vs bare ids and scores.
Run: make bench-feed_read
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop
from redis.asyncio import Redis

from bench.bench_framework import CONNECTIONS, load
from bench.harness import isolated_stack, report
from gateway.accounts import Account, RedisAccountStore, hash_password
from gateway.tokens import TokenSigner
from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.readiness import gateway_healthy
from infra.settings import Settings
from projections.feeds import MAX_FEED
from projections.redis_feeds import RedisFeeds
from projections.redis_graph import RedisGraph
from projections.redis_keys import FeedKeys
from projections.writes import PutPost, PutUser, SetFollow, SetTimeline, Write

AUTHORS = 50
POSTS_PER_AUTHOR = 20  # 1,000 posts: the viewer's feed holds MAX_FEED of them
VIEWER = 10**12
PAGE = 20
MEASURE_S = 5.0
GOAL_RATE, GOAL_P99_MS, GOAL_BYTES = 0.5, 20.0, 1.2


async def seed(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis)
    graph, feeds = RedisGraph(redis, 1), RedisFeeds(redis, 1)
    authors = [VIEWER + 1 + a for a in range(AUTHORS)]
    await graph.apply([PutUser(u, f"user{u}", 1, 1) for u in [VIEWER, *authors]])
    await graph.apply([SetFollow(VIEWER, a, 1, True, 2) for a in authors])
    rows: list[tuple[int, int]] = []
    writes: list[Write] = []
    ms = 1_767_225_600_000
    for _ in range(POSTS_PER_AUTHOR):
        for a in authors:
            ms += 1000
            post = ms * 10
            fields = (("author_id", str(a)), ("caption", f"post {post} #bench"), ("tags", "bench"),
                      ("thumbnail", f"v/{post}/t.jpg"), ("feed", f"v/{post}/f.jpg"),
                      ("full", f"v/{post}/u.jpg"), ("width", "1080"), ("height", "810"),
                      ("blurhash", "LEHV6nWB2yk8pyo0adR*.7kCMdnj"), ("alt_text", ""),
                      ("published_ms", str(ms)))  # fmt: skip
            writes += [PutPost(post, a, fields, 3), SetTimeline(a, post, ms, True, 3)]
            rows.append((post, ms))
    await feeds.apply(writes)
    await feeds.fill_feed(VIEWER, sorted(rows, key=lambda r: -r[1])[:MAX_FEED])
    await redis.aclose()


async def viewer_token(settings: Settings) -> str:
    """A session of VIEWER as POST /sessions would issue it (the account must exist: every
    request checks the token's epoch against it)."""
    redis = Redis.from_url(settings.redis)
    accounts = RedisAccountStore(redis)
    await accounts.reserve(Account(VIEWER, f"user{VIEWER}", await hash_password("bench pass")))
    account = await accounts.by_id(VIEWER)
    await redis.aclose()
    assert account is not None
    signer = TokenSigner(settings.token_secret, 3600)
    return signer.issue(VIEWER, int(time.time()), epoch=account.changed_at)[0]


async def bare_reads(settings: Settings, seconds: float) -> float:
    """The same reads the gateway does for one page, with no HTTP and no logic: pages/s."""
    redis = Redis.from_url(settings.redis, max_connections=CONNECTIONS)
    graph, feeds = RedisGraph(redis, 1), RedisFeeds(redis, 1)
    stop_at = time.perf_counter() + seconds

    async def one_client() -> int:
        done = 0
        while time.perf_counter() < stop_at:
            following = await graph.following(VIEWER, 100_000, None)
            await feeds.celebrities()
            await feeds.feed_state(VIEWER)
            rows = await feeds.feed_page(VIEWER, 2 * (PAGE + 1), None)
            posts = await feeds.posts([p for p, _ in rows])
            await graph.users(sorted({v.author_id for v in posts.values()}))
            done += 1 if following.items else 0
        return done

    started = time.perf_counter()
    total = sum(await asyncio.gather(*(one_client() for _ in range(CONNECTIONS))))
    rate = total / (time.perf_counter() - started)
    await redis.aclose()
    return rate


async def feed_bytes(settings: Settings) -> tuple[float, float]:
    """(bytes per entry of a full feed, bytes per entry of bare 8-byte ids + 8-byte scores)."""
    redis = Redis.from_url(settings.redis)
    key = FeedKeys(1).feed(VIEWER)
    used, entries = await redis.memory_usage(key, samples=0), await redis.zcard(key)
    await redis.aclose()
    assert used is not None
    return used / entries, 16.0


def main() -> None:
    with isolated_stack("memory", partitions=1) as settings:
        asyncio.run(seed(settings))
        spec = ProcessSpec("bench-gateway", [sys.executable, "-m", "photofeed", "gateway"],
                           settings.to_env())  # fmt: skip
        gateway = ManagedProcess(spec, settings.data_dir / "run", settings.data_dir / "logs")
        gateway.start()
        try:
            if not wait_until(lambda: gateway_healthy(settings), 60):
                raise RuntimeError(gateway.log_tail())
            token = asyncio.run(viewer_token(settings))
            request = (f"GET /api/v1/feed?limit={PAGE} HTTP/1.1\r\nHost: bench\r\n"
                       f"Authorization: Bearer {token}\r\n\r\n").encode()  # fmt: skip
            uvloop.run(load(settings.gateway_port, 1.0, request))  # warm-up
            project, _ = uvloop.run(load(settings.gateway_port, MEASURE_S, request))
            baseline = asyncio.run(bare_reads(settings, MEASURE_S))
            _, lat = uvloop.run(load(settings.gateway_port, MEASURE_S, request, 0.7 * project))
            lat.sort()
            p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
            report(
                "feed_read_pages_per_s", project, baseline, GOAL_RATE, "pages/s", better="higher"
            )
            report(
                "feed_read_p99_at_70pct_ms",
                p99,
                GOAL_P99_MS,
                1.0,
                "ms",
                better="lower",
                p50=p50,
                p99=p99,
            )
            per_entry, bare = asyncio.run(feed_bytes(settings))
            report("feed_bytes_per_entry", per_entry, bare, GOAL_BYTES, "bytes", better="lower")
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
