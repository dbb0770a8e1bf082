"""Gateway framework overhead: the real Starlette gateway vs a bare ASGI app on the same server.

Both are served by uvicorn (uvloop, httptools, one process) and loaded by the same keep-alive
HTTP/1.1 client on loopback (bench/loadgen.py, closed loop; every non-2xx an error) with a small
JSON endpoint (`/healthz`). On a 2-core machine the client shares the CPU with the server, so raw
requests/s partly measure the client; the headline figure is therefore the server's capacity,
requests per second of server CPU (from /proc), which isolates the framework's own cost.
Requests/s and latencies under the same load are printed too. Goal from the foundation issue:
>= 60% of raw ASGI. Run: make bench-framework
"""

from __future__ import annotations

import os
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
MEASURE_S = 5.0
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


def measure(target: str, factory: bool) -> dict[str, float]:
    """Capacity, requests/s and latencies of one app under the same closed-loop load."""
    port = free_port_block(1)
    proc = serve(target, port, factory)
    targets = [Target(REQUEST)]
    try:
        closed_loop(port, targets, WARMUP_S, connections=CONNECTIONS)
        cpu_before = cpu_seconds(proc.pid)
        load = closed_loop(port, targets, MEASURE_S, connections=CONNECTIONS)
        cpu = cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "capacity": load.count / cpu,  # requests per second of server CPU
        "rps": load.rate,
        "p50_ms": load.percentile_ms(50),
        "p99_ms": load.percentile_ms(99),
        "errors": load.errors,  # every non-2xx, and every request left unanswered
    }


def main() -> None:
    raw = measure("bench.framework_apps:raw_app", factory=False)
    project = measure("bench.framework_apps:project_app", factory=True)
    starlette = measure("bench.framework_apps:plain_starlette", factory=True)
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
