"""Client construction from Settings; called only by the composition root."""

from __future__ import annotations

import os
from typing import Any

import certifi
import hiredis
import urllib3
from confluent_kafka.admin import AdminClient
from minio import Minio
from redis.asyncio import Connection, Redis

from infra.settings import S3_APP, Settings

REDIS_POOL_SIZE = 64  # >= concurrent requests a gateway process serves
REDIS_TIMEOUT_S = 5.0  # default reply bound: > the worker's longest script batch
REDIS_CONNECT_TIMEOUT_S = 2.0  # a local or in-region connect takes milliseconds
S3_POOL_SIZE = 10  # minio's own default
KAFKA_RECONNECT_MAX_MS = 1000  # a restarted broker is found again within this (default: 10 s)


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


def make_redis(settings: Settings, *, timeout_s: float | None = None) -> Redis:
    """A pooled client, connected as `settings.redis_role`'s Valkey user (the composition root
    picks the role of each process). Each connect and each reply is bounded by `timeout_s` (default
    REDIS_TIMEOUT_S; the gateway passes `settings.dependency_timeout_s`): past it redis-py raises
    its TimeoutError, and a refused connection raises ConnectionError at once. Nothing is
    retried here (a retried script could apply twice); a pooled connection that Valkey closed is
    replaced before use."""
    read_s = REDIS_TIMEOUT_S if timeout_s is None else timeout_s
    extra: dict[str, Any] = {}
    url = settings.redis  # read once: it carries the role's password
    if url.startswith("redis://"):  # TCP; TLS and unix sockets keep their classes
        extra["connection_class"] = HiredisPackingConnection
    return Redis.from_url(
        url,
        max_connections=REDIS_POOL_SIZE,
        socket_timeout=read_s,
        socket_connect_timeout=min(REDIS_CONNECT_TIMEOUT_S, read_s),
        health_check_interval=30,
        **extra,
    )


def make_minio(settings: Settings, *, timeout_s: float | None = None) -> Minio:
    """An S3 client with the app's identity (raises InsecureSettings for the retired default
    keys). With `timeout_s` (the gateway's bound) every call gives up within about
    that long: connects get half of it and are retried once, a reply gets all of it and is
    not retried; the urllib3 error then says S3 is unreachable. Without it, minio's defaults
    (5-minute timeouts, 5 retries)."""
    http = None
    if timeout_s is not None:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout_s / 2, read=timeout_s),
            maxsize=S3_POOL_SIZE,
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),  # as minio's default
            retries=urllib3.Retry(
                total=1, read=0, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
    access_key, secret_key = settings.s3_keys(S3_APP)
    return Minio(
        settings.s3,
        access_key=access_key,
        secret_key=secret_key,
        secure=settings.s3_secure,
        region=settings.s3_region,
        http_client=http,
    )


def make_kafka_admin(settings: Settings, timeout_s: float) -> AdminClient:
    """An admin client for health probes (metadata requests); quiet while the broker is down,
    since the probe itself reports that."""
    timeout_ms = max(1000, int(timeout_s * 1000))  # librdkafka's minimum
    return AdminClient(
        {
            "bootstrap.servers": settings.bootstrap,
            "socket.connection.setup.timeout.ms": timeout_ms,
            "reconnect.backoff.max.ms": KAFKA_RECONNECT_MAX_MS,
            "log_level": 0,
            **settings.kafka_security(),
        }
    )
