"""The worker's figures of issue 15 that the other benches lack, through the real broker and
worker processes:

1. `like_visible_p99_ms` (<= 50 ms): likes at a steady 100/s through the real gateway, each timed
   from its due moment until `GET /posts/{id}` as its viewer shows it (bench/like_visible.py);
   p50 beside it. On Tansu's memory storage, as bench_fanout's freshness figures: Tansu's S3
   storage (`make up`'s) takes appends at about this rate only with seconds of queueing here
   (SeaweedFS's CPU), which would hide the worker; the same run on it, S3_LIKES long, is INFO.
   Then, as INFO, lone likes after quiet spells: what the idle fetch wait costs freshness.
2. `worker_idle_cpu_pct` (<= 5% of one core): CPU time (/proc utime + stime of each process
   group) of the broker and the worker over IDLE_S with nothing to do, once the worker joined and
   projected everything, on Tansu's S3 storage as `make up` runs it. Each one's share,
   SeaweedFS's and Valkey's as INFO, and the fetch waits in use (the freshness side of the
   trade). Measured before the gateway starts (its lag probe talks to the broker).
3. `likes_two_workers_ratio` (>= 1.8): like events/s of two `photofeed worker` processes in one
   consumer group vs one, both draining the same pre-appended log of bench/bench_likes.py's
   workload (PARTITIONS partitions), each from a fresh group and an empty Valkey; timed from the
   first worker's join until the group's applied offsets reach the log's end (bench_likes
   `wait_applied`; counts verified). Baseline: the one-worker rate of the same run.
Run: make bench-worker
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass

from bench import like_visible
from bench.bench_framework import cpu_seconds
from bench.bench_likes import LogEnds, Workload, append, wait_applied, workload
from bench.harness import info, isolated_stack, report, report_bound, running
from bench.loadgen_seed import wait_caught_up
from infra.clients import make_redis
from infra.kafka import KafkaEventLog
from infra.processes import ManagedProcess, ProcessSpec, group_members, wait_until
from infra.readiness import gateway_healthy, worker_joined
from infra.settings import Settings
from infra.stack import load_valkey_functions
from schemas.codec import default_codec

LIKE_P99_BOUND_MS = 50.0  # issue 15: like -> visible at 100 likes/s, p99
S3_LIKES = 300  # the same rate on Tansu's S3 storage, for INFO: 3 s of it
IDLE_BOUND_PCT = 5.0  # issue 15: broker + worker with nothing to do, % of one core
IDLE_SETTLE_S = 3.0  # after catching up, before the idle clock starts (commits, gauges settle)
IDLE_S = 20.0  # >= 20 s (issue 15): several of every periodic task's periods
SCALE_GOAL = 1.8  # issue 15: two workers >= 1.8x one on the likes stream
PARTITIONS = 6  # of every topic in the scale-out stack: 3 per worker
JOIN_TIMEOUT_S = 120.0
SERVICES = ("tansu", "seaweedfs", "valkey")  # the stack's processes (infra/stack.py names)


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds so far of every live process in the process group `pgid`."""
    total = 0.0
    for pid in group_members(pgid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # it just ended
            total += cpu_seconds(pid)
    return total


def service_pgid(settings: Settings, name: str) -> int:
    """The process group of one of the stack's services, from its pidfile."""
    return int((settings.data_dir / "run" / f"{name}.pid").read_text().strip())


def idle_cpu(settings: Settings, worker_pgid: int) -> None:
    groups = {"worker": worker_pgid, **{n: service_pgid(settings, n) for n in SERVICES}}
    time.sleep(IDLE_SETTLE_S)
    before, started = {n: group_cpu_s(g) for n, g in groups.items()}, time.monotonic()
    time.sleep(IDLE_S)
    elapsed = time.monotonic() - started
    pct = {n: 100 * (group_cpu_s(g) - before[n]) / elapsed for n, g in groups.items()}
    report_bound("worker_idle_cpu_pct", pct["tansu"] + pct["worker"], IDLE_BOUND_PCT,
                 "%_of_one_core", better="lower", broker=pct["tansu"], worker=pct["worker"],
                 seconds=elapsed)  # fmt: skip
    for name in ("worker", "tansu", "seaweedfs", "valkey"):
        info(f"worker_idle_cpu_{name}_pct", pct[name], "%_of_one_core", seconds=elapsed)
    info("worker_fetch_wait_ms", settings.fetch_wait_ms, "ms",
         idle_wait_ms=settings.fetch_idle_wait_ms,
         idle_after_s=settings.fetch_idle_after_s)  # fmt: skip


def likes_on(
    storage: str, likes: int, *, idle: bool = False, lone: bool = False
) -> tuple[like_visible.Likes, like_visible.Likes | None, float]:
    """A fresh stack on `storage`, a worker, the likes' world projected, the idle figure when
    `idle`, then `likes` likes through a gateway, and the lone likes when `lone`: (the likes',
    the lone likes' measures, the gateway's CPU share during the likes)."""
    alone = None
    with isolated_stack(storage) as settings:
        log = KafkaEventLog(settings.bootstrap, default_codec())
        try:
            with running(settings, "bench-worker", ["-m", "photofeed", "worker"],
                         lambda pid: worker_joined(settings, pid)) as worker:  # fmt: skip
                world, posts = like_visible.seed(settings, log)
                wait_caught_up(settings)
                if idle:
                    idle_cpu(settings, worker)
                tokens = like_visible.tokens(settings, world)
                load_valkey_functions(settings)  # the checkout's, should a .lua have changed
                with running(settings, "bench-gateway", ["-m", "photofeed", "gateway"],
                             lambda _pid: gateway_healthy(settings)) as gateway:  # fmt: skip
                    cpu, started = group_cpu_s(gateway), time.monotonic()
                    out = like_visible.measure(settings, world, posts, tokens, likes)
                    share = (group_cpu_s(gateway) - cpu) / (time.monotonic() - started)
                    if lone:
                        alone = like_visible.measure_lone(settings, world, posts, tokens)
        finally:
            log.close()
    return out, alone, share


def like_figures() -> None:
    s3, _, _ = likes_on("s3", S3_LIKES, idle=True)
    out, lone, gateway_share = likes_on("memory", like_visible.LIKES, lone=True)
    lat, failed = out.latencies_s, sum(out.errors.values())
    report_bound(
        "like_visible_p99_ms", out.percentile_ms(lat, 99), LIKE_P99_BOUND_MS, "ms",
        better="lower", errors=failed, p50=out.percentile_ms(lat, 50), rate=like_visible.RATE,
        requests=len(lat), min_requests=like_visible.LIKES,
    )  # fmt: skip
    info("like_visible_p50_ms", out.percentile_ms(lat, 50), "ms", p90=out.percentile_ms(lat, 90),
         max=out.percentile_ms(lat, 100))  # fmt: skip
    info("like_post_answered_ms", out.percentile_ms(out.post_s, 50), "ms",
         p99=out.percentile_ms(out.post_s, 99),
         schedule_lag_p99_ms=out.percentile_ms(out.schedule_lag_s, 99))  # fmt: skip
    info("like_visible_reads_per_like", out.reads / max(1, len(lat)), "GETs",
         poll_ms=like_visible.POLL_S * 1000, gateway_cpu_pct=100 * gateway_share)  # fmt: skip
    if failed:
        info("like_visible_failures", failed, "likes", **out.errors)
    if lone is not None:  # the freshness side of the idle fetch wait
        info("like_visible_after_idle_ms", lone.percentile_ms(lone.latencies_s, 50), "ms",
             max=lone.percentile_ms(lone.latencies_s, 100), likes=like_visible.LONE_LIKES,
             visible=len(lone.latencies_s), spacing_s=like_visible.LONE_SPACING_S,
             **lone.errors)  # fmt: skip
    info("like_visible_s3_p99_ms", s3.percentile_ms(s3.latencies_s, 99), "ms",
         p50=s3.percentile_ms(s3.latencies_s, 50), post_p50=s3.percentile_ms(s3.post_s, 50),
         post_p99=s3.percentile_ms(s3.post_s, 99), likes=S3_LIKES,
         visible=len(s3.latencies_s), **s3.errors)  # fmt: skip


@dataclass(frozen=True)
class Drained:
    rate: float  # events/s from the first join to the last event applied
    join_gap_s: float  # between the first and the last worker's join
    cpu_pct: dict[str, float]  # meanwhile, % of one core: the workers (together), tansu, valkey


def drain(settings: Settings, work: Workload, ends: LogEnds, workers: int) -> Drained:
    """`workers` worker processes in a fresh consumer group draining the log into an empty
    Valkey."""
    asyncio.run(_flush(settings))
    env = settings.with_(worker_port=0).to_env()  # several on one machine: no health endpoints
    argv = [sys.executable, "-m", "photofeed", "worker"]
    run, logs = settings.data_dir / "run", settings.data_dir / "logs"
    procs = [ManagedProcess(ProcessSpec(f"bench-worker-{k}", argv, env), run, logs)
             for k in range(workers)]  # fmt: skip
    try:
        pids = [p.start() for p in procs]
        joined: dict[int, float] = {}
        services = {n: service_pgid(settings, n) for n in ("tansu", "valkey")}
        cpu: dict[str, float] = {}

        def cpu_now() -> dict[str, float]:
            return {"workers": sum(group_cpu_s(p) for p in pids),
                    **{n: group_cpu_s(g) for n, g in services.items()}}  # fmt: skip

        def all_joined() -> bool:
            for pid in pids:
                if pid not in joined and worker_joined(settings, pid):
                    joined[pid] = time.perf_counter()
                    if not cpu:  # CPU counts from the first join on, as the rate's clock
                        cpu.update(cpu_now())
            if any(p.pid() is None for p in procs):
                raise RuntimeError("a worker exited:\n" + "\n".join(p.log_tail() for p in procs))
            return len(joined) == len(pids)

        if not wait_until(all_joined, JOIN_TIMEOUT_S, 0.01):
            raise RuntimeError("the workers did not join:\n" + procs[0].log_tail())
        first, last = min(joined.values()), max(joined.values())
        elapsed = asyncio.run(wait_applied(settings, work, ends, first))
        spent = {n: 100 * (v - cpu[n]) / elapsed for n, v in cpu_now().items()}
        return Drained(len(work.events) / elapsed, last - first, spent)
    finally:
        for p in procs:
            p.stop()


async def _flush(settings: Settings) -> None:
    redis = make_redis(settings)
    await redis.flushdb()
    await redis.aclose()


def two_workers() -> None:
    work = workload()
    with isolated_stack("memory", partitions=PARTITIONS) as settings:
        ends = append(settings, work)
        one = drain(settings.with_(worker_group="bench-scale-1"), work, ends, 1)
        two = drain(settings.with_(worker_group="bench-scale-2"), work, ends, 2)
    report("likes_two_workers_ratio", two.rate, one.rate, SCALE_GOAL, "events/s",
           better="higher", events=len(work.events), partitions=PARTITIONS,
           join_gap_s=two.join_gap_s)  # fmt: skip
    for n, run in ((1, one), (2, two)):  # on 2 cores: who had the CPU meanwhile
        info(f"likes_{n}_worker_cpu_pct", run.cpu_pct["workers"], "%_of_one_core",
             tansu=run.cpu_pct["tansu"], valkey=run.cpu_pct["valkey"],
             cores=os.cpu_count() or 0)  # fmt: skip


def main() -> None:
    like_figures()
    two_workers()


if __name__ == "__main__":
    main()
