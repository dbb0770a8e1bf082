"""Gateway framework overhead: the real Starlette gateway vs a bare ASGI app on the same server.

Both are served by uvicorn (uvloop, httptools, one process) and loaded by the same keep-alive
HTTP/1.1 client on loopback (bench/loadgen.py, closed loop; every non-2xx an error) with a small
JSON endpoint (`/healthz`). On a 2-core machine the client shares the CPU with the server, so raw
requests/s partly measure the client; the headline figure is therefore the server's capacity,
requests per second of server CPU (from /proc), which isolates the framework's own cost.
Requests/s and latencies under the same load are printed too. Goal from the foundation issue:
>= 60% of raw ASGI. The two servers run side by side and are measured in alternating windows
(ROUNDS each, raw first), each figure the median of its windows: a machine whose speed drifts
during the run moves both alike, where one window each after the other credited the drift to
whichever came second (runs of this bench alone gave 0.60-0.79 for the same code).
Run: make bench-framework
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.harness import info, report
from bench.loadgen import Target, closed_loop
from infra.ports import free_port_block

ROOT = Path(__file__).resolve().parents[1]

CONNECTIONS = 32
WARMUP_S = 1.0
MEASURE_S = 3.0  # per window
ROUNDS = 3  # windows per app, alternating
GOAL = 0.6
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"


def serve(target: str, port: int, factory: bool) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "uvicorn", target, "--port", str(port), "--loop", "uvloop",
        "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if factory:
        argv.append("--factory")
    proc = subprocess.Popen(argv, cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{target} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def window(port: int, pid: int) -> dict[str, float]:
    """Capacity, requests/s and latencies of one served app under MEASURE_S of closed-loop load."""
    cpu_before = cpu_seconds(pid)
    load = closed_loop(port, [Target(REQUEST)], MEASURE_S, connections=CONNECTIONS)
    cpu = cpu_seconds(pid) - cpu_before
    return {
        "capacity": load.count / cpu,  # requests per second of server CPU
        "rps": load.rate,
        "p50_ms": load.percentile_ms(50),
        "p99_ms": load.percentile_ms(99),
        "errors": load.errors,  # every non-2xx, and every request left unanswered
    }


def measure(*apps: tuple[str, bool], rounds: int = ROUNDS) -> list[dict[str, float]]:
    """Each app (target, factory) served at once, warmed up, then measured in `rounds`
    alternating windows; per app the median of each figure over its windows (errors summed)."""
    served = []
    try:
        for target, factory in apps:
            port = free_port_block(1)
            served.append((port, serve(target, port, factory)))
        for port, _proc in served:
            closed_loop(port, [Target(REQUEST)], WARMUP_S, connections=CONNECTIONS)
        runs: list[list[dict[str, float]]] = [[] for _ in served]
        for _ in range(rounds):
            for i, (port, proc) in enumerate(served):
                runs[i].append(window(port, proc.pid))
    finally:
        for _port, proc in served:
            proc.terminate()
            proc.wait(10)
    return [
        {k: sum(w[k] for w in ws) if k == "errors" else statistics.median(w[k] for w in ws)
         for k in ws[0]}
        for ws in runs
    ]  # fmt: skip


def main() -> None:
    raw, project = measure(
        ("bench.framework_apps:raw_app", False), ("bench.framework_apps:project_app", True)
    )
    (starlette,) = measure(("bench.framework_apps:plain_starlette", True), rounds=1)
    info(
        "starlette_app_capacity",
        starlette["capacity"],
        "requests/cpu-s",
        ratio_vs_raw=starlette["capacity"] / raw["capacity"],
        errors=starlette["errors"],
    )
    errors = int(project["errors"] + raw["errors"])
    report(
        "gateway_framework_capacity", project["capacity"], raw["capacity"], GOAL,
        "requests/cpu-s", better="higher", errors=errors,
    )  # fmt: skip
    report(
        "gateway_framework_rps", project["rps"], raw["rps"], GOAL, "requests/s", better="higher",
        errors=errors, p50=project["p50_ms"], p99=project["p99_ms"], baseline_p50=raw["p50_ms"],
        baseline_p99=raw["p99_ms"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
