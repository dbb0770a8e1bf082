"""Shared benchmark plumbing: an isolated stack on free ports, and the BENCH output line.

Every figure is printed beside its bare baseline measured in the same run:
`BENCH <name> project=<v> baseline=<v> ratio=<project/baseline> goal=<ratio> better=higher|lower
errors=<n> unit=<unit>`, or, for an absolute budget, `bound=<v>` instead of `baseline=` (with the
bare figure as INFO); `make bench` fails when any figure misses (bench/verdict.py).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from infra.kafka import create_topics
from infra.ports import settings_on_free_ports
from infra.processes import ManagedProcess, ProcessSpec, wait_until
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


@contextlib.contextmanager
def running(
    settings: Settings, name: str, argv: list[str], ready: Callable[[int], bool],
    timeout_s: float = 120.0,
) -> Iterator[int]:  # fmt: skip
    """A Python process (`python <argv>`, the stack's settings in its environment) for the
    block; yields its pid once `ready(pid)` holds, stops it afterwards."""
    spec = ProcessSpec(name, [sys.executable, *argv], settings.to_env())
    proc = ManagedProcess(spec, settings.data_dir / "run", settings.data_dir / "logs")
    pid = proc.start()
    try:
        if not wait_until(lambda: ready(pid), timeout_s):
            raise RuntimeError(f"{name} was not ready in {timeout_s:.0f} s:\n{proc.log_tail()}")
        yield pid
    finally:
        proc.stop()


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


def report_bound(
    name: str,
    project: float,
    bound: float,
    unit: str,
    *,
    better: Literal["higher", "lower"],
    errors: int = 0,
    **extra: float,
) -> None:
    """Print one BENCH line for a figure with an absolute goal (a latency budget, e.g. p99 <=
    20 ms): `bound=` where other lines say `baseline=`, ratio = project/bound, goal 1. It is not
    a baseline, so it may be a constant; print the bare baseline's own figure beside it as INFO."""
    ratio = project / bound if bound else float("nan")
    tail = "".join(f" {k}={v:.4g}" for k, v in extra.items())
    print(
        f"BENCH {name} project={project:.4g} bound={bound:.4g} ratio={ratio:.3f} goal=1 "
        f"better={better} errors={errors} unit={unit}{tail}",
        flush=True,
    )


def info(name: str, value: float, unit: str, **extra: float) -> None:
    """A reference figure that is not the project's (no goal): printed as an INFO line."""
    tail = "".join(f" {k}={v:.4g}" for k, v in extra.items())
    print(f"INFO {name} value={value:.4g} unit={unit}{tail}", flush=True)
