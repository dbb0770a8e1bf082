"""Client construction from Settings; called only by the composition root."""

from __future__ import annotations

from typing import Any

import hiredis
from minio import Minio
from redis.asyncio import Connection, Redis

from infra.settings import Settings

REDIS_POOL_SIZE = 64  # >= concurrent requests a gateway process serves


class HiredisPackingConnection(Connection):
    """Packs commands with hiredis (C), byte for byte what redis-py's Python encoder produces:
    a batch of projection writes is thousands of script arguments, and packing them in Python
    cost more than decoding the events they came from."""

    def pack_command(self, *args: Any) -> list[bytes]:
        return [pack(args)]


def pack(args: tuple[Any, ...]) -> bytes:
    """One command in RESP; a first argument with spaces ("SCRIPT LOAD") is several words."""
    first = args[0]
    if isinstance(first, str | bytes) and (
        " " in first if isinstance(first, str) else b" " in first
    ):
        args = (*first.split(), *args[1:])
    return bytes(hiredis.pack_command(args))


def make_redis(settings: Settings) -> Redis:
    extra: dict[str, Any] = {}
    if settings.redis.startswith("redis://"):  # TCP; TLS and unix sockets keep their classes
        extra["connection_class"] = HiredisPackingConnection
    return Redis.from_url(
        settings.redis,
        max_connections=REDIS_POOL_SIZE,
        socket_timeout=5.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        **extra,
    )


def make_minio(settings: Settings) -> Minio:
    return Minio(
        settings.s3,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=settings.s3_secure,
        region=settings.s3_region,
    )
