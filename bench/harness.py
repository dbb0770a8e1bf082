"""Shared benchmark plumbing: an isolated stack on free ports, and the BENCH output line.

Every figure is printed beside its bare baseline measured in the same run:
`BENCH <name> project=<v> baseline=<v> ratio=<project/baseline> goal=<ratio> better=higher|lower
errors=<n> unit=<unit>`; `make bench` fails when any figure misses (bench/verdict.py).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from infra.kafka import create_topics
from infra.ports import settings_on_free_ports
from infra.settings import Settings
from infra.stack import Stack


def bench_settings(
    data_dir: Path, storage: str = "s3", partitions: int = 6, **overrides: Any
) -> Settings:
    return settings_on_free_ports(
        data_dir, tansu_storage=storage, topic_partitions=partitions,
        token_secret="bench-secret-" + "x" * 40, log_level="WARNING", **overrides,
    )  # fmt: skip


@contextlib.contextmanager
def isolated_stack(
    storage: str = "s3", partitions: int = 6, **overrides: Any
) -> Iterator[Settings]:
    """A fresh stack in a temp dir, torn down afterwards."""
    with tempfile.TemporaryDirectory(prefix="photofeed-bench-") as tmp:
        settings = bench_settings(Path(tmp), storage, partitions, **overrides)
        stack = Stack(settings)
        stack.up()
        try:
            create_topics(settings.bootstrap, partitions=partitions)
            yield settings
        finally:
            stack.down()


def report(
    name: str,
    project: float,
    baseline: float,
    goal: float,
    unit: str,
    *,
    better: Literal["higher", "lower"],
    errors: int = 0,
    **extra: float,
) -> None:
    """Print one BENCH line. The figure meets its goal when project/baseline is >= goal
    (`better="higher"`) or <= goal (`better="lower"`) and no request of it failed (`errors`);
    bench/verdict.py reads the lines and fails `make bench` naming every miss."""
    ratio = project / baseline if baseline else float("nan")
    tail = "".join(f" {k}={v:.4g}" for k, v in extra.items())
    print(
        f"BENCH {name} project={project:.4g} baseline={baseline:.4g} ratio={ratio:.3f} "
        f"goal={goal:g} better={better} errors={errors} unit={unit}{tail}",
        flush=True,
    )


def info(name: str, value: float, unit: str, **extra: float) -> None:
    """A reference figure that is not the project's (no goal): printed as an INFO line."""
    tail = "".join(f" {k}={v:.4g}" for k, v in extra.items())
    print(f"INFO {name} value={value:.4g} unit={unit}{tail}", flush=True)
