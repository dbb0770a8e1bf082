"""The app processes `photofeed up` starts and `down` / `status` find: N supervised Faust
workers and the gateway, each a managed process (pidfile, log, process group) under the data
dir.

Workers are named `worker`, `worker-2`, … `worker-N`; all join the one consumer group
(`worker_group`) and share its partitions, and the i-th serves its `/healthz` and `/metrics`
on `worker_port + i - 1`. `down` and `status` also find workers beyond the configured count
that still run (from their pidfiles), so lowering `--workers` never strands a process.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.processes import ManagedProcess, ProcessSpec, wait_until
from infra.readiness import gateway_healthy, worker_joined
from infra.settings import Settings

WORKER, GATEWAY = "worker", "gateway"
_WORKER_NAME = re.compile(rf"{WORKER}(?:-(\d+))?")  # worker_name(i), nothing else
FRESH_S = 5.0  # > HEALTH_EVERY_S (streams/app.py, 2 s): a live worker's snapshot is younger


def worker_name(index: int) -> str:
    """The name of the `index`-th worker (1-based): the first keeps the plain name."""
    return WORKER if index == 1 else f"{WORKER}-{index}"


def worker_index(name: str) -> int | None:
    """The inverse of worker_name; None for any other name."""
    match = _WORKER_NAME.fullmatch(name)
    if match is None:
        return None
    return int(match.group(1) or 1)


def worker_port(settings: Settings, index: int) -> int:
    """The `index`-th worker's health port: consecutive from worker_port (0 stays 0: none)."""
    return settings.worker_port + index - 1 if settings.worker_port else 0


def _python() -> list[str]:
    return [sys.executable, "-m", "photofeed"]


def worker_process(settings: Settings, index: int) -> ManagedProcess:
    env = {"PHOTOFEED_WORKER_PORT": str(worker_port(settings, index))}
    spec = ProcessSpec(worker_name(index), [*_python(), WORKER, "--supervised"], env)
    return ManagedProcess(spec, _run_dir(settings), _log_dir(settings))


def worker_processes(settings: Settings, count: int | None = None) -> list[ManagedProcess]:
    """Workers 1..`count` (default settings.workers), then any other worker whose pidfile
    says it runs, in index order."""
    wanted = set(range(1, (settings.workers if count is None else count) + 1))
    found = (worker_index(p.stem) for p in _run_dir(settings).glob(f"{WORKER}*.pid"))
    recorded = {i for i in found if i is not None}
    return [worker_process(settings, i) for i in sorted(wanted | recorded)]


def gateway_process(settings: Settings, processes: int = 1) -> ManagedProcess:
    """The gateway: one process, or (`processes` > 1) a supervising parent (the pidfile's)
    with that many children on the port (photofeed/gateway_serve.py)."""
    argv = [*_python(), GATEWAY, "--workers", str(processes)]
    return ManagedProcess(ProcessSpec(GATEWAY, argv), _run_dir(settings), _log_dir(settings))


def _run_dir(settings: Settings) -> Path:
    return settings.data_dir / "run"


def _log_dir(settings: Settings) -> Path:
    return settings.data_dir / "logs"


class AppStartError(RuntimeError):
    """A process did not come up: args are (what happened, the tail of its log)."""


def start_app(settings: Settings, gateway_procs: int, timeout_s: float) -> list[ManagedProcess]:
    """Start settings.workers workers (stopping running ones beyond that count) and the
    gateway with `gateway_procs` processes; return once the gateway answers and every worker
    joined the group (all of them, then the gateway). Already running ones are kept.
    Raises AppStartError naming what did not come up within `timeout_s`."""
    workers = worker_processes(settings)
    for surplus in workers[settings.workers :]:
        surplus.stop()
    workers = workers[: settings.workers]
    pids = [w.start() for w in workers]
    gateway = gateway_process(settings, gateway_procs)
    gateway.start()
    wait_until(lambda: gateway_healthy(settings) or not gateway.pid(), timeout_s, 0.2)
    if not gateway_healthy(settings):
        raise AppStartError("gateway did not answer", gateway.log_tail())
    wait_until(lambda: all(worker_joined(settings, pid) for pid in pids), timeout_s, 0.2)
    for proc, pid in zip(workers, pids, strict=True):
        if not worker_joined(settings, pid):
            raise AppStartError(f"{proc.spec.name} did not join its group", proc.log_tail())
    return [*workers, gateway]


def gateway_children(gateway: ManagedProcess) -> list[int]:
    """The processes serving the gateway's port in multi-process mode: every member of its
    process group but the supervising parent."""
    leader = gateway.pid()
    return [p for p in gateway.members() if p != leader]


StatusRow = tuple[str, int | None, bool, str]  # name, pid, healthy, address


def status_rows(settings: Settings, snapshots: Sequence[dict[str, Any]]) -> list[StatusRow]:
    """One row per worker, then the gateway. A worker is healthy when the health snapshot of
    a process in its group shows every agent running; workers that publish snapshots but
    were not started here (another machine, a hand-run `photofeed worker`) get rows too. The
    gateway is healthy when `/healthz` answers 200; its address says how many processes
    serve the port."""
    rows: list[StatusRow] = []
    matched: set[int] = set()
    for proc in worker_processes(settings):
        members = set(proc.members())
        own = [s for s in snapshots if s["pid"] in members]
        matched |= {s["pid"] for s in own}
        port = worker_port(settings, worker_index(proc.spec.name) or 1)
        address = f"http://{settings.host}:{port}/healthz" if port else ""
        pid = proc.pid()
        rows.append((proc.spec.name, pid, pid is not None and _running(own), address))
    for snap in snapshots:  # a dead worker's last snapshot lingers until its TTL: skip it
        if snap["pid"] not in matched and time.time() - snap["at"] < FRESH_S:
            rows.append((WORKER, snap["pid"], _running([snap]), "(not started here)"))
    gateway = gateway_process(settings)
    pid = gateway.pid()
    served_by = len(gateway_children(gateway)) or (1 if pid else 0)
    address = f"{settings.gateway_url} ({served_by} process{'es' if served_by > 1 else ''})"
    rows.append((GATEWAY, pid, pid is not None and gateway_healthy(settings), address))
    return rows


def _running(snapshots: Sequence[dict[str, Any]]) -> bool:
    agents = [a for snap in snapshots for a in snap["agents"].values()]
    return bool(agents) and all(a["state"] == "running" for a in agents)
