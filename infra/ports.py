"""Free loopback ports for stacks that must not collide (tests, benchmarks, side-by-side runs)."""

from __future__ import annotations

import random
import socket
from pathlib import Path
from typing import Any

from infra.settings import Settings
from infra.stack import SEAWEED_INTERNAL_PORTS

PORTS_NEEDED = SEAWEED_INTERNAL_PORTS + 5  # kafka, redis, gateway, s3 (+ internals), worker


def free_port_block(size: int, host: str = "127.0.0.1") -> int:
    """A base port such that base .. base+size-1 are all free on `host` right now."""
    start = 20000 + random.randrange(3000) * 10
    candidates: list[int] = [*range(start, 60000, size + 3), *range(20000, start, size + 3)]
    for base in candidates:
        if all(_free(host, base + i) for i in range(size)):
            return base
    raise RuntimeError(f"no block of {size} free ports on {host}")


def _free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def settings_on_free_ports(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a private stack under `data_dir` whose services all get free ports."""
    base = free_port_block(PORTS_NEEDED)
    ports = {"kafka_port": base, "redis_port": base + 1, "gateway_port": base + 2,
             "s3_port": base + 3, "worker_port": base + PORTS_NEEDED - 1}  # fmt: skip
    return Settings(data_dir=data_dir, **{**ports, **overrides})
