"""Managed background processes: spawn detached with a pidfile and a log, probe, stop.

A process is identified by its pidfile under `<data_dir>/run/`; `start` is idempotent (a live
pidfile means already running) and `stop` escalates from SIGTERM to SIGKILL after a grace period.

Each managed process leads its own process group (its pid is the group id), and whatever it
starts (a supervised worker, the gateway's processes) stays in that group: `stop` and `kill`
signal the whole group and wait until every member is gone, even when the leader died first,
so nothing is left behind. Linux keeps a pid number allocated while it is still some group's
id, so a group with members is always the one the pidfile recorded.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STOP_GRACE_S = 10.0  # >= Faust's clean shutdown on a 2-core machine
KILL_WAIT_S = 5.0  # after SIGKILL: the kernel tears down even a large process quickly
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # spawned here; kept so they can be reaped


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


class ManagedProcess:
    """One named process under `run_dir`; safe to drive from several CLI invocations."""

    def __init__(self, spec: ProcessSpec, run_dir: Path, log_dir: Path) -> None:
        self.spec = spec
        self.pidfile = run_dir / f"{spec.name}.pid"
        self.logfile = log_dir / f"{spec.name}.log"

    def pid(self) -> int | None:
        """The pid when the pidfile's process is alive, else None. A stale pidfile is removed
        once nothing of its process group is left (`stop` still finds members that outlived
        their leader)."""
        pid = self._recorded()
        if pid is None or _alive(pid):
            return pid
        if not group_members(pid):
            self.pidfile.unlink(missing_ok=True)
        return None

    def members(self) -> list[int]:
        """Every live process of this process's group (the leader and what it started)."""
        pid = self._recorded()
        return [] if pid is None else group_members(pid)

    def _recorded(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start(self) -> int:
        """Spawn the process unless it already runs; return its pid."""
        running = self.pid()
        if running is not None:
            return running
        self.stop()  # what outlived a leader that died: it would hold ports and consume
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "ab") as log:
            proc = subprocess.Popen(
                list(self.spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.spec.env},
                cwd=self.spec.cwd,
                start_new_session=True,  # Ctrl-C in the launching terminal must not kill it
            )
        _CHILDREN[proc.pid] = proc
        self.pidfile.write_text(str(proc.pid))
        return proc.pid

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop the whole process group: SIGTERM, then SIGKILL after `grace_s`; return True if
        something of it was running. Returns once no member is left."""
        pid = self._recorded()
        if pid is None:
            return False
        if not _group_running(pid):
            self.pidfile.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        if not wait_until(lambda: not _group_running(pid), grace_s):
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _group_running(pid), KILL_WAIT_S)
        self.pidfile.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crash would (the crash-recovery tests)."""
        pid = self._recorded()
        if pid is not None and _group_running(pid):
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _group_running(pid), KILL_WAIT_S)
        self.pidfile.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll `condition` until it holds or the deadline passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes whose process group is `pgid`, from /proc (without
    procfs: [pgid] while the group exists, its members unknown)."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # exited while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def die_with_parent(parent: int, sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A callable that asks the kernel to send `sig` to the calling process when its parent
    exits (Linux; elsewhere it does nothing). A child of a supervisor runs it first (as
    `preexec_fn`, or at start), so a supervisor killed by SIGKILL or the OOM killer leaves no
    orphan serving or consuming. `parent` is the pid the child expects as its parent: if that
    one already died before the call, the child signals itself. libc is resolved here, before
    any fork, so the callable is safe between fork and exec."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return arm


def _group_running(pgid: int) -> bool:
    return _alive(pgid) or bool(group_members(pgid))


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)
