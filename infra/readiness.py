"""Readiness probes of the app processes, shared by `photofeed up`, tests and benchmarks."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import redis
from redis.asyncio import Redis as AsyncRedis

from infra.settings import Settings


def worker_ready_key(pid: int) -> str:
    """Set by a worker once its consumer group assigned it partitions."""
    return f"worker:ready:{pid}"


def worker_joined(settings: Settings, pid: int) -> bool:
    """Whether the worker with `pid` has joined its consumer group."""
    client = redis.Redis.from_url(settings.redis)
    try:
        return bool(client.exists(worker_ready_key(pid)))
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


WORKER_HEALTH_TTL_S = 10  # > 2x the worker's publishing interval (2 s)


def worker_health_key(pid: int) -> str:  # worker_health() scans this pattern
    """A worker's latest health snapshot (JSON; see streams/health.py), expiring when it stops."""
    return f"worker:health:{pid}"


async def publish_worker_health(redis: AsyncRedis, pid: int, snapshot: dict[str, Any]) -> None:
    await redis.set(worker_health_key(pid), orjson.dumps(snapshot), ex=WORKER_HEALTH_TTL_S)


def worker_health(settings: Settings) -> list[dict[str, Any]]:
    """The health snapshots of every live worker (empty when none publishes or Valkey is down)."""
    client = redis.Redis.from_url(settings.redis)
    try:
        keys = sorted(client.scan_iter(match="worker:health:*", count=100))
        return [orjson.loads(v) for v in client.mget(keys) if v] if keys else []
    except redis.RedisError:
        return []
    finally:
        client.close()
