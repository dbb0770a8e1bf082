"""Fan-out on write: deliveries/s and publish -> visible latency through Kafka -> Faust agent ->
Redis, for posts by an author with 1,000 (then 10,000) followers, vs a bare redis.asyncio loop
doing the same pipelined ZADD + trim per follower, in the same run on the same Valkey.
Run: make bench-fanout
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from bench.harness import info, isolated_stack, report, report_bound
from bench.loadgen_seed import wait_caught_up
from infra.kafka import KafkaEventLog
from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.readiness import worker_joined
from infra.settings import Settings
from projections.feeds.logic import MAX_FEED
from projections.feeds.redis import RedisFeeds
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas import events as ev
from schemas.codec import default_codec
from schemas.ids import SnowflakeGenerator

POSTS = 50  # posts in the throughput burst
LATENCY_POSTS = 40  # posts published one at a time for the latency figures
FRESHNESS_BOUND_MS = {1000: 50.0, 10000: 250.0}  # issue 15: publish -> every follower's feed, p99
GOAL_RATE = 0.6  # issue 4: >= 60% of the bare pipelined loop
IDS = SnowflakeGenerator(11)


def now() -> datetime:
    return datetime.now(tz=UTC)


async def follow_graph(log: KafkaEventLog, author: int, followers: int) -> list[int]:
    fans = [IDS.next_id() for _ in range(followers)]
    for fan in fans:
        log.append_nowait(ev.UserFollowed(event_id=IDS.next_id(), occurred_at=now(),
                                          actor_id=fan, followee_id=author))  # fmt: skip
    log.flush(60)
    return fans


async def through_pipeline(settings: Settings, followers: int) -> tuple[float, float, list[float]]:
    """(deliveries/s, the first post's and the steady posts' publish->last-follower latencies
    in s)."""
    redis = Redis.from_url(settings.redis)
    log = KafkaEventLog(settings.bootstrap, default_codec())
    author = IDS.next_id()
    fans = await follow_graph(log, author, followers)
    versions = RedisVersions(redis)

    async def follower_count() -> int:
        from projections.graph.redis import RedisGraph

        g = RedisGraph(redis, await versions.active(Group.GRAPH))
        return (await g.counts([author]))[author].followers

    deadline = time.monotonic() + 120
    while await follower_count() < followers and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    feeds = RedisFeeds(redis, await versions.active(Group.FEEDS))
    last = fans[-1]

    def publish() -> ev.PostPublished:
        post = IDS.next_id()
        return ev.PostPublished(
            event_id=IDS.next_id(), occurred_at=now(), actor_id=author, post_id=post,
            photo_id=post, caption="", tags=(), variants=ev.Variants("a", "b", "c"), width=1,
            height=1, blurhash="x")  # fmt: skip

    async def delivered(post: int, since: float) -> float:
        while await redis.zscore(feeds.keys.feed(last), post) is None:
            if time.perf_counter() - since > 60:
                raise RuntimeError("fan-out did not reach the last follower")
            await asyncio.sleep(0.002)
        return time.perf_counter() - since

    async def one_post() -> float:  # publish -> in the last follower's feed
        t0, e = time.perf_counter(), publish()
        await log.append(e)
        return await delivered(e.post_id, t0)

    # The graph group projects the follows first; the others may still be at them. From a worker
    # caught up on every topic, the first post may still find its consumer on the idle fetch wait
    # (streams/transport.py): it is reported apart, and the steady posts are measured after it.
    await asyncio.to_thread(wait_caught_up, settings)
    first = await one_post()
    latencies = [await one_post() for _ in range(LATENCY_POSTS)]  # one at a time
    burst = [publish() for _ in range(POSTS)]  # throughput: a burst, as a busy author produces
    started = time.perf_counter()
    await log.append(*burst)
    for e in burst:
        await delivered(e.post_id, started)
    rate = POSTS * followers / (time.perf_counter() - started)
    log.close()
    await redis.aclose()
    return rate, first, latencies


async def bare_loop(settings: Settings, followers: int) -> float:
    redis = Redis.from_url(settings.redis)
    fans = list(range(1, followers + 1))
    started = time.perf_counter()
    for post in range(POSTS):
        async with redis.pipeline(transaction=False) as pipe:
            for fan in fans:
                pipe.zadd(f"bare:feed:{{{fan}}}", {str(post): post})
                pipe.zremrangebyrank(f"bare:feed:{{{fan}}}", 0, -(MAX_FEED + 1))
            await pipe.execute()
    rate = POSTS * followers / (time.perf_counter() - started)
    await redis.aclose()
    return rate


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    with isolated_stack("memory", partitions=3, celebrity_threshold=10**9) as settings:
        spec = ProcessSpec("bench-worker", [sys.executable, "-m", "photofeed", "worker"],
                           settings.to_env())  # fmt: skip
        worker = ManagedProcess(spec, settings.data_dir / "run", settings.data_dir / "logs")
        pid = worker.start()
        if not wait_until(lambda: worker_joined(settings, pid), 120):
            raise RuntimeError(worker.log_tail())
        try:
            for n in sizes:
                asyncio.run(bare_loop(settings, n))  # warm-up
                baseline = asyncio.run(bare_loop(settings, n))
                rate, first, lat = asyncio.run(through_pipeline(settings, n))
                lat.sort()
                p50 = lat[len(lat) // 2] * 1000
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000  # nearest rank
                report(f"fanout_{n}_deliveries_per_s", rate, baseline, GOAL_RATE, "deliveries/s",
                       better="higher", p50=p50, p99=p99)  # fmt: skip
                if n in FRESHNESS_BOUND_MS:  # the fan-out's last follower: every feed has it
                    report_bound(f"fanout_{n}_freshness_p99_ms", p99, FRESHNESS_BOUND_MS[n], "ms",
                                 better="lower", p50=p50, posts=len(lat))  # fmt: skip
                    info(f"fanout_{n}_first_post_ms", first * 1000, "ms")
        finally:
            worker.stop()


if __name__ == "__main__":
    main()
