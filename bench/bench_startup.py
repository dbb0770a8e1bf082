"""Start-up times: `photofeed up` (stack, topics, worker, gateway) vs the bare services alone,
and worker-ready (process start -> first event projected) vs the bare stack's start.

Each run uses a fresh data dir and free ports, with the log on SeaweedFS as `make up` runs it.
Run: make bench-startup
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from bench.harness import bench_settings, report
from infra.kafka import KafkaEventLog
from infra.processes import ManagedProcess, ProcessSpec
from infra.settings import Settings
from infra.stack import Stack
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas import events as ev
from schemas.codec import default_codec
from schemas.ids import SnowflakeGenerator

GOAL_UP = 3.0  # the whole system may take up to 3x the bare services


def cli(settings: Settings, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "photofeed", *args], env=settings.to_env(), check=True,
        capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


async def worker_ready_s(settings: Settings) -> float:
    """Seconds from spawning a worker until an event appended before it is projected."""
    ids = SnowflakeGenerator(5)
    user = ids.next_id()
    log = KafkaEventLog(settings.bootstrap, default_codec())
    now = datetime.now(tz=UTC)
    await log.append(
        ev.UserRegistered(event_id=ids.next_id(), occurred_at=now, actor_id=user, username="probe")
    )
    log.close()
    redis = Redis.from_url(settings.redis)
    spec = ProcessSpec("bench-worker", [sys.executable, "-m", "photofeed", "worker"],
                       settings.to_env())  # fmt: skip
    proc = ManagedProcess(spec, settings.data_dir / "run", settings.data_dir / "logs")
    started = time.perf_counter()
    proc.start()
    try:
        graph = RedisGraph(redis, await RedisVersions(redis).active(Group.GRAPH))
        while not await graph.users([user]):
            if time.perf_counter() - started > 120:
                raise RuntimeError("worker never became ready:\n" + proc.log_tail())
            await asyncio.sleep(0.02)
        return time.perf_counter() - started
    finally:
        proc.stop()
        await redis.aclose()


def main() -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        bare = bench_settings(Path(a))
        stack_s = cli(bare, "stack", "up")
        cli(bare, "topics", "create")
        ready_s = asyncio.run(worker_ready_s(bare))
        Stack(bare).down()

        full = bench_settings(Path(b))
        up_s = cli(full, "up")
        cli(full, "down")
        restart_s = cli(full, "up")  # warm: data dir exists, topics exist
        cli(full, "down")
    report("make_up_cold_s", up_s, stack_s, GOAL_UP, "s", better="lower", restart_s=restart_s)
    report("worker_ready_s", ready_s, stack_s, GOAL_UP, "s", better="lower")


if __name__ == "__main__":
    main()
