"""Readiness probes of the app processes, shared by `photofeed up`, tests and benchmarks."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import redis
from redis.asyncio import Redis as AsyncRedis

from infra.settings import Settings

WORKER_READY_TTL_S = 24 * 3600  # outlives any start-up; a restarted worker announces again
WORKER_HEALTH_TTL_S = 10  # > 2x the worker's publishing interval (2 s)


class WorkerKeys:
    """Valkey keys of the workers' announcements (the only place they are spelled)."""

    HEALTH_PATTERN = "worker:health:*"  # SCAN MATCH pattern of every `health` key

    @staticmethod
    def ready(pid: int) -> str:
        """String: the partitions assigned, set once the consumer group assigned the worker
        some; `pid` is its process group (the pid `photofeed up` knows, supervised or not)."""
        return f"worker:ready:{pid}"

    @staticmethod
    def health(pid: int) -> str:
        """String: the latest health snapshot of the worker process `pid` (JSON; see
        streams/health.py), expiring when it stops publishing."""
        return f"worker:health:{pid}"


async def announce_worker_ready(redis: AsyncRedis, pid: int, partitions: int) -> None:
    """Say that the worker `pid` joined its consumer group with `partitions` assigned."""
    await redis.set(WorkerKeys.ready(pid), partitions, ex=WORKER_READY_TTL_S)


def worker_joined(settings: Settings, pid: int) -> bool:
    """Whether the worker with `pid` has joined its consumer group."""
    client = redis.Redis.from_url(settings.redis)
    try:
        return bool(client.exists(WorkerKeys.ready(pid)))
    except redis.RedisError:
        return False
    finally:
        client.close()


def gateway_healthy(settings: Settings) -> bool:
    """Whether the gateway answers `/healthz` with 200."""
    try:
        return httpx.get(f"{settings.gateway_url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


async def publish_worker_health(redis: AsyncRedis, pid: int, snapshot: dict[str, Any]) -> None:
    await redis.set(WorkerKeys.health(pid), orjson.dumps(snapshot), ex=WORKER_HEALTH_TTL_S)


def worker_health(settings: Settings) -> list[dict[str, Any]]:
    """The health snapshots of every live worker (empty when none publishes or Valkey is down)."""
    client = redis.Redis.from_url(settings.redis)
    try:
        keys = sorted(client.scan_iter(match=WorkerKeys.HEALTH_PATTERN, count=100))
        return [orjson.loads(v) for v in client.mget(keys) if v] if keys else []
    except redis.RedisError:
        return []
    finally:
        client.close()
