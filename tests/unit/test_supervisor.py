"""The process supervisor with real child processes (no services)."""

from __future__ import annotations

import sys
from pathlib import Path

from infra.supervisor import supervise

CHILD = """
import sys, pathlib
runs = pathlib.Path(sys.argv[1])
n = int(runs.read_text() or 0) + 1 if runs.exists() else 1
runs.write_text(str(n))
sys.exit(0 if n >= int(sys.argv[2]) else 70)
"""


def run(tmp_path: Path, succeed_on: int, max_restarts: int | None) -> tuple[int, int, list[int]]:
    counter = tmp_path / "runs"
    pids: list[int] = []
    status = supervise(
        [sys.executable, "-c", CHILD, str(counter), str(succeed_on)],
        max_restarts=max_restarts, first_backoff_s=0.01, install_signals=False,
        on_start=pids.append,
    )  # fmt: skip
    return status, int(counter.read_text()), pids


def test_a_child_that_exits_non_zero_is_restarted_until_it_succeeds(tmp_path: Path) -> None:
    status, runs, pids = run(tmp_path, succeed_on=3, max_restarts=None)
    assert (status, runs) == (0, 3)
    assert len(set(pids)) == 3  # a fresh process each time


def test_restarts_can_be_bounded(tmp_path: Path) -> None:
    status, runs, _ = run(tmp_path, succeed_on=10, max_restarts=2)
    assert (status, runs) == (70, 3)
