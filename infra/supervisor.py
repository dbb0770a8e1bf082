"""Keeps a child process running: restarts it with backoff when it exits non-zero.

`photofeed up` runs the worker under this (`photofeed worker --supervised`), so a worker that
gives up on a crash loop (exit status 70) or dies is back within seconds, resuming from the
committed offsets. SIGTERM/SIGINT stop the child first, then the supervisor; exit status 0 from
the child means it was asked to stop, and is not restarted.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

import structlog

FIRST_BACKOFF_S = 1.0  # first restart delay; doubles per quick exit
MAX_BACKOFF_S = 30.0  # a broken deployment retries at most twice a minute
HEALTHY_AFTER_S = 60.0  # a child that ran this long resets the backoff
log = structlog.get_logger("photofeed.supervisor")


def supervise(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    max_restarts: int | None = None,
    first_backoff_s: float = FIRST_BACKOFF_S,
    install_signals: bool = True,
    on_start: Callable[[int], None] = lambda pid: None,
) -> int:
    """Run `argv` until it exits 0 or a stop signal arrives; return the last exit status.
    `max_restarts` bounds restarts (tests); None restarts forever."""
    stop = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def forward(sig: int, _frame: FrameType | None) -> None:
        stop.set()
        if child and child[-1].poll() is None:
            child[-1].send_signal(sig)

    if install_signals:
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
    delay, restarts = first_backoff_s, 0
    while True:
        started = time.monotonic()
        proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None)
        child.append(proc)
        on_start(proc.pid)
        code = proc.wait()
        if stop.is_set() or code == 0:
            return code
        if max_restarts is not None and restarts >= max_restarts:
            return code
        if time.monotonic() - started >= HEALTHY_AFTER_S:
            delay = first_backoff_s
        log.warning("child_exited", argv=list(argv)[-1:], status=code, restart_in_s=delay)
        if stop.wait(delay):
            return code
        restarts += 1
        delay = min(delay * 2, MAX_BACKOFF_S)
