"""Keeps a child process running: restarts it with backoff when it exits non-zero.

`photofeed up` runs the worker under this (`photofeed worker --supervised`), so a worker that
gives up on a crash loop (exit status 70) or dies is back within seconds, resuming from the
committed offsets. SIGTERM/SIGINT stop the child first, then the supervisor; exit status 0 from
the child means it was asked to stop, and is not restarted. A supervisor that dies without
stopping its child (SIGKILL, the OOM killer) takes it along: the kernel sends the child SIGTERM
(infra/processes.py `die_with_parent`), so no orphan keeps consuming beside its replacement.
`supervise_all` does the same for several children at once (the gateway's processes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

import structlog

from infra.processes import die_with_parent

FIRST_BACKOFF_S = 1.0  # first restart delay; doubles per quick exit
MAX_BACKOFF_S = 30.0  # a broken deployment retries at most twice a minute
HEALTHY_AFTER_S = 60.0  # a child that ran this long resets the backoff
log = structlog.get_logger("photofeed.supervisor")


class _Children:
    """The children of one supervisor and whether it was asked to stop. The signal handler
    runs on the main thread between bytecodes, so nothing here takes a lock."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.procs: list[subprocess.Popen[bytes]] = []

    def forward(self, sig: int, _frame: FrameType | None) -> None:
        self.stop.set()
        for proc in list(self.procs):
            if proc.poll() is None:
                proc.send_signal(sig)

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.forward)
        signal.signal(signal.SIGINT, self.forward)


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
    children = _Children()
    if install_signals:
        children.install()
    return _keep_running(argv, env, children, max_restarts, first_backoff_s, on_start)


def supervise_all(
    argvs: Sequence[Sequence[str]],
    env: Mapping[str, str] | None = None,
    *,
    first_backoff_s: float = FIRST_BACKOFF_S,
    on_start: Callable[[int], None] = lambda pid: None,
) -> int:
    """`supervise` for several children at once (the gateway's processes), each restarted on
    its own; SIGTERM/SIGINT stop them all. Returns once every child ended for good: the
    highest exit status. Each child is started from its own thread, which stays until that
    child ended: the kernel's parent-death signal follows the thread that forked."""
    children = _Children()
    children.install()
    codes: list[int] = []

    def run(argv: Sequence[str]) -> None:
        codes.append(_keep_running(argv, env, children, None, first_backoff_s, on_start))

    threads = [threading.Thread(target=run, args=(argv,), daemon=True) for argv in argvs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # interrupted by signals, whose handler runs here
    return max(codes, default=0)


def _keep_running(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    children: _Children,
    max_restarts: int | None,
    first_backoff_s: float,
    on_start: Callable[[int], None],
) -> int:
    delay, restarts = first_backoff_s, 0
    arm = die_with_parent(os.getpid())
    while True:
        started = time.monotonic()
        proc = subprocess.Popen(
            list(argv), env=dict(env) if env is not None else None, preexec_fn=arm
        )
        children.procs.append(proc)
        if children.stop.is_set():  # the stop signal came while it was being started
            proc.terminate()
        on_start(proc.pid)
        code = proc.wait()
        children.procs.remove(proc)
        if children.stop.is_set() or code == 0:
            return code
        if max_restarts is not None and restarts >= max_restarts:
            return code
        if time.monotonic() - started >= HEALTHY_AFTER_S:
            delay = first_backoff_s
        log.warning("child_exited", argv=list(argv)[-1:], status=code, restart_in_s=delay)
        if children.stop.wait(delay):
            return code
        restarts += 1
        delay = min(delay * 2, MAX_BACKOFF_S)
