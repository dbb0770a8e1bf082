"""Shared benchmark plumbing: an isolated stack on free ports, and the BENCH output line.

Every figure is printed beside its bare baseline measured in the same run:
`BENCH <name> project=<v> baseline=<v> ratio=<project/baseline> goal=<ratio> unit=<unit>`.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from infra.kafka import create_topics
from infra.settings import Settings
from infra.stack import SEAWEED_INTERNAL_PORTS, Stack

PORTS_NEEDED = SEAWEED_INTERNAL_PORTS + 5


def free_port_block(size: int, start: int = 41000) -> int:
    for base in range(start, 60000, size + 3):
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def bench_settings(data_dir: Path, storage: str = "s3", partitions: int = 6) -> Settings:
    base = free_port_block(PORTS_NEEDED)
    return Settings(
        data_dir=data_dir, kafka_port=base, redis_port=base + 1, gateway_port=base + 2,
        s3_port=base + 3, tansu_storage=storage, topic_partitions=partitions,
        token_secret="bench-secret-" + "x" * 40, log_json=True, log_level="WARNING",
    )  # fmt: skip


@contextlib.contextmanager
def isolated_stack(storage: str = "s3", partitions: int = 6) -> Iterator[Settings]:
    """A fresh stack in a temp dir, torn down afterwards."""
    with tempfile.TemporaryDirectory(prefix="photofeed-bench-") as tmp:
        settings = bench_settings(Path(tmp), storage, partitions)
        stack = Stack(settings)
        stack.up()
        try:
            create_topics(settings.bootstrap, partitions=partitions)
            yield settings
        finally:
            stack.down()


def report(
    name: str, project: float, baseline: float, goal: float, unit: str, **extra: float
) -> None:
    ratio = project / baseline if baseline else float("nan")
    tail = "".join(f" {k}={v:.4g}" for k, v in extra.items())
    print(
        f"BENCH {name} project={project:.4g} baseline={baseline:.4g} ratio={ratio:.3f} "
        f"goal={goal:g} unit={unit}{tail}",
        flush=True,
    )
