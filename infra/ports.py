"""Free loopback ports for stacks that must not collide (tests, benchmarks, side-by-side runs)."""

from __future__ import annotations

import random
import socket
from pathlib import Path
from typing import Any

from infra.settings import Settings
from infra.stack import SEAWEED_INTERNAL_PORTS

PORTS_NEEDED = SEAWEED_INTERNAL_PORTS + 5  # kafka, redis, gateway, s3 (+ internals), worker


LOWEST = 15000  # below: well-known services' ports, more often taken
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port_block(size: int, host: str = "127.0.0.1") -> int:
    """A base port such that base .. base+size-1 are all free on `host` right now.

    Blocks come from below the kernel's ephemeral range when there is room: a port in that
    range can be taken between this check and the service's bind by any outgoing connection
    on the machine (a test session opens thousands), which is how stacks once failed to start
    with "address already in use" now and then."""
    low, high = _unclaimed(size)
    step = size + 3
    start = low + random.randrange(max(1, (high - low) // step)) * step
    candidates: list[int] = [*range(start, high, step), *range(low, start, step)]
    for base in candidates:
        if all(_free(host, base + i) for i in range(size)):
            return base
    raise RuntimeError(f"no block of {size} free ports on {host}")


def _unclaimed(size: int) -> tuple[int, int]:
    """[low, high) of the bases to try: below the ephemeral range, or anywhere if it leaves no
    room for a few hundred blocks (an unusual ip_local_port_range)."""
    try:
        ephemeral = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):  # not Linux: the IANA dynamic range's start
        ephemeral = 49152
    if ephemeral - size - LOWEST >= 200 * (size + 3):
        return LOWEST, ephemeral - size
    return 20000, 65535 - size


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
