"""The read path under load, against the real stack: the worker projects a seeded world from the
log (bench/loadgen_seed.py: 100 viewers in cohorts, pool authors, 20 celebrities past the
celebrity threshold, a viewer following 2,000 accounts) while new posts keep arriving, and one
gateway process serves pages 1-50 of many viewers' feeds, tokens rotating per request.

The bare baseline (bench/framework_apps.py `bare_pages`) answers every request with ONE Redis GET
of a page the gateway itself rendered for the same path, on the same uvicorn settings and the same
Redis client. Load comes from bench/loadgen.py: closed loop for pages/s (gateway and bare in
alternating rounds, bench/loadgen_compare.py), open loop (fixed rate, latency from the scheduled
time, >= 10,000 requests) for latency.

Figures: feed pages/s vs bare (goal 0.5); feed p99 at 70% of the gateway's own max rate (goal
<= 20 ms; the bare app's p99 at that rate as INFO); pages 41-50 p99 and the heavy viewer's p99,
each vs page 1's p99 in the same run (goal <= 2x; no ratio when the run could not keep its rate,
since queueing then swamps every class alike); profile grid, single post, comments and
notifications pages/s vs bare (goal 0.5 each); Valkey bytes per feed entry vs the same members
and scores in a bare listpack zset (goal <= 1.2x). Run: make bench-feed_read
"""

from __future__ import annotations

import asyncio
import math
import time

import httpx
from redis import Redis

from bench.framework_apps import BARE_PAGE_PREFIX
from bench.harness import info, isolated_stack, report, report_bound, running
from bench.loadgen import Target, open_loop
from bench.loadgen_compare import Server, alternate
from bench.loadgen_reads import ReadTargets, feed_bytes, prepare, sign_in
from bench.loadgen_seed import (
    CELEBRITIES,
    FANS,
    Arrivals,
    World,
    build_world,
    project,
    wait_caught_up,
    wait_celebrities,
)
from infra.kafka import KafkaEventLog
from infra.ports import free_port_block
from infra.readiness import gateway_healthy, worker_joined
from infra.settings import Settings
from schemas.codec import default_codec

PARTITIONS = 3
OPEN_CONNECTIONS = 64  # open loop: a request finding all busy waits here, its clock running
LATENCY_REQUESTS = 10_000  # per open-loop run (ARCHITECTURE: >= 10,000) ...
LATENCY_MAX_S = 40.0  # ... unless the rate is too low for that in this long: then fewer, a miss
LOAD_SHARE = 0.7  # the latency run's rate, of the gateway's own max pages/s
KEPT_UP = 0.95  # a latency run answering slower than this share of its rate was saturated
ARRIVALS_PER_S = 20.0  # new posts during the measurements
GOAL_RATE, GOAL_P99_MS, GOAL_TAIL, GOAL_OTHER, GOAL_BYTES = 0.5, 20.0, 2.0, 0.5, 1.2


def compare_rates(
    name: str, targets: list[Target], servers: tuple[Server, Server], valkey_pid: int,
    goal: float, page_bytes: float,
) -> float:  # fmt: skip
    """One pages/s figure, gateway vs bare on the same requests; returns the gateway's rate."""
    ours, base = alternate(servers, valkey_pid, targets)
    bare_cpu = {f"bare_{k}": v for k, v in base.cpu_ms().items()}
    report(name, ours.rate, base.rate, goal, "pages/s", better="higher",
           errors=ours.errors + base.errors, page_bytes=page_bytes, **ours.cpu_ms(),
           **bare_cpu)  # fmt: skip
    if name == "feed_read_pages_per_s":  # the load generator's own ceiling, on the bare app
        info("loadgen_ceiling", base.count / max(1e-9, base.client_cpu_s), "requests/cpu-s",
             bare_rate=base.rate, share_of_one_core=base.client_cpu_s / base.elapsed_s)  # fmt: skip
    for who, measured in (("gateway", ours), ("bare", base)):
        if measured.errors:
            info(f"{name}_{who}_failures", measured.errors, "requests", **measured.failures())
    return ours.rate


def latency_figures(reads: ReadTargets, servers: tuple[Server, Server], max_rate: float) -> None:
    rate = LOAD_SHARE * max_rate
    count = min(LATENCY_REQUESTS, max(1, int(rate * LATENCY_MAX_S)))
    ours, base = (open_loop(s.port, reads.feed, rate, count, connections=OPEN_CONNECTIONS)
                  for s in servers)  # fmt: skip
    info("feed_read_bare_p99_at_same_rate_ms", base.percentile_ms(99), "ms",
         p50=base.percentile_ms(50), rate=rate, errors=base.errors)  # fmt: skip
    report_bound(
        "feed_read_p99_at_70pct_ms", ours.percentile_ms(99), GOAL_P99_MS, "ms", better="lower",
        errors=ours.errors, p50=ours.percentile_ms(50), rate=rate, achieved=ours.rate,
        requests=ours.count, min_requests=LATENCY_REQUESTS,
        loadgen_lag_p99_ms=ours.schedule_lag_p99_s * 1000,
    )  # fmt: skip
    if ours.errors:
        info("feed_read_p99_failures", ours.errors, "requests", **ours.failures())
    kept_up = ours.rate >= KEPT_UP * rate
    page1 = ours.percentile_ms(99, "page1")
    for name, tag in (("feed_deep_scroll_p99_vs_page1", "deep"),
                      ("feed_heavy_viewer_p99_vs_page1", "heavy")):  # fmt: skip
        p99 = ours.percentile_ms(99, tag)
        report(name, p99 if kept_up else math.nan, page1, GOAL_TAIL, "ms", better="lower",
               errors=ours.errors, p99=p99, p50=ours.percentile_ms(50, tag),
               tag_requests=len(ours.latencies_s(tag)), requests=ours.count,
               min_requests=LATENCY_REQUESTS, kept_up=float(kept_up))  # fmt: skip


def seed(settings: Settings, log: KafkaEventLog) -> World:
    """The world, projected by the running worker; INFO: how long that took."""
    world, graph, posts, engagement = build_world()
    started = time.perf_counter()
    project(settings, log, graph)
    wait_celebrities(settings, CELEBRITIES)
    wait_caught_up(settings)
    project(settings, log, posts)
    project(settings, log, engagement)
    events, seconds = len(graph) + len(posts) + len(engagement), time.perf_counter() - started
    info("feed_read_seed_projected", events / seconds, "events/s", events=events, seconds=seconds)
    return world


def bare_argv(port: int) -> list[str]:
    """uvicorn with the settings `photofeed gateway` passes to uvicorn.run."""
    return ["-m", "uvicorn", "bench.framework_apps:bare_pages", "--factory", "--host",
            "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--lifespan", "on", "--log-level", "warning"]  # fmt: skip


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def measure(settings: Settings, world: World, log: KafkaEventLog) -> None:
    tokens = asyncio.run(sign_in(settings, world))
    valkey = Redis.from_url(settings.redis)
    valkey.set(BARE_PAGE_PREFIX + "/healthz", b'{"status":"ok"}')
    valkey_pid = int(valkey.info("server")["process_id"])
    valkey.close()
    port = free_port_block(1)
    with (
        running(settings, "bench-gateway", ["-m", "photofeed", "gateway"],
                lambda _pid: gateway_healthy(settings)) as gateway_pid,
        running(settings, "bench-bare", bare_argv(port), lambda _pid: _answers(port)) as bare_pid,
        Arrivals(settings, log, world, ARRIVALS_PER_S) as arrivals,
    ):  # fmt: skip
        reads = asyncio.run(prepare(settings, world, tokens))
        servers = Server(settings.gateway_port, gateway_pid), Server(port, bare_pid)
        max_rate = compare_rates("feed_read_pages_per_s", reads.feed, servers, valkey_pid,
                                 GOAL_RATE, reads.page_bytes["feed"])  # fmt: skip
        latency_figures(reads, servers, max_rate)
        for name, targets in reads.others:
            compare_rates(name, targets, servers, valkey_pid, GOAL_OTHER, reads.page_bytes[name])
        info("feed_read_posts_arrived", arrivals.appended, "posts", per_s=ARRIVALS_PER_S)
    wait_caught_up(settings)
    ours, bare_bytes, entries = asyncio.run(feed_bytes(settings, world.cohorts[0][0]))
    report("feed_bytes_per_entry", ours, bare_bytes, GOAL_BYTES, "bytes", better="lower",
           entries=entries)  # fmt: skip


def run(settings: Settings) -> None:
    """Worker up, seed, measure; the producer is gone before the stack stops (else librdkafka
    keeps reconnecting to the stopped broker until exit)."""
    log = KafkaEventLog(settings.bootstrap, default_codec())
    try:
        with running(settings, "bench-worker", ["-m", "photofeed", "worker"],
                     lambda pid: worker_joined(settings, pid)):  # fmt: skip
            measure(settings, seed(settings, log), log)
    finally:
        log.close()


def main() -> None:
    with isolated_stack("memory", partitions=PARTITIONS, celebrity_threshold=FANS) as settings:
        run(settings)


if __name__ == "__main__":
    main()
