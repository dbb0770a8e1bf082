"""Client construction from Settings; called only by the composition root."""

from __future__ import annotations

from minio import Minio
from redis.asyncio import Redis

from infra.settings import Settings

REDIS_POOL_SIZE = 64  # >= concurrent requests a gateway process serves


def make_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis,
        max_connections=REDIS_POOL_SIZE,
        socket_timeout=5.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
    )


def make_minio(settings: Settings) -> Minio:
    return Minio(
        settings.s3,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=settings.s3_secure,
        region=settings.s3_region,
    )
