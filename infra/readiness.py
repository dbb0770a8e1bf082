"""Readiness probes of the app processes, shared by `photofeed up`, tests and benchmarks."""

from __future__ import annotations

import httpx
import redis

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
