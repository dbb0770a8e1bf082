"""Snowflake worker ids (schemas/ids.py) leased from a counter in Valkey, one per process.

Every process that makes ids (each gateway process, each worker) takes the next value of one
shared counter modulo 1024 at start. Two live processes collide only after 1024 starts in
between, and even then their ids differ unless both issue one in the same millisecond.
"""

from __future__ import annotations

import redis
from redis.asyncio import Redis as AsyncRedis

from infra.settings import Settings
from schemas.ids import MAX_WORKER


class WorkerIdKeys:
    """Valkey key of the leases (the only place it is spelled)."""

    COUNTER = "snowflake:worker-ids"  # integer: incremented once per lease, never reset


def worker_id(lease: int) -> int:
    """The worker id of the `lease`-th lease: the counter wraps around the 10 worker bits."""
    return lease % (MAX_WORKER + 1)


async def lease_worker_id(client: AsyncRedis) -> int:
    """A worker id for this process."""
    return worker_id(int(await client.incr(WorkerIdKeys.COUNTER)))


def lease_worker_id_now(settings: Settings) -> int:
    """lease_worker_id for code that runs before an event loop exists (a connection of its own,
    as `settings.redis` says: the process's Valkey user)."""
    client = redis.Redis.from_url(settings.redis)
    try:
        return worker_id(int(client.incr(WorkerIdKeys.COUNTER)))
    finally:
        client.close()
