"""Gateway framework overhead: the real Starlette gateway vs a bare ASGI app on the same server.

Both are served by uvicorn (uvloop, httptools, one process) and loaded by the same keep-alive
HTTP/1.1 client on loopback with a small JSON endpoint (`/healthz`). On a 2-core machine the client
shares the CPU with the server, so raw requests/s partly measure the client; the headline figure is
therefore the server's capacity, requests per second of server CPU (from /proc), which isolates
the framework's own cost. Requests/s and latencies under the same load are printed too.
Goal from the foundation issue: >= 60% of raw ASGI. Run: make bench-framework
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.harness import info, report
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


async def _connection(
    port: int, stop_at: float, latencies: list[float], request: bytes = REQUEST,
    interval_s: float = 0.0,
) -> int:  # fmt: skip
    """Keep-alive requests until `stop_at`; with `interval_s`, paced (open loop) at that spacing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    next_at = time.perf_counter()
    while time.perf_counter() < stop_at:
        if interval_s:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval_s
        t = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - t)
        done += 1
    writer.close()
    return done


async def load(
    port: int, seconds: float, request: bytes = REQUEST, rate: float = 0.0
) -> tuple[float, list[float]]:
    """(requests/s, latencies); `rate` > 0 paces the whole load at that many requests/s."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    interval = CONNECTIONS / rate if rate else 0.0
    counts = await asyncio.gather(
        *(_connection(port, stop_at, latencies, request, interval) for _ in range(CONNECTIONS))
    )
    return sum(counts) / (time.perf_counter() - started), latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(target: str, factory: bool) -> dict[str, float]:
    import uvloop

    port = free_port_block(1)
    proc = serve(target, port, factory)
    try:
        uvloop.run(load(port, WARMUP_S))
        cpu_before = cpu_seconds(proc.pid)
        rps, lat = uvloop.run(load(port, MEASURE_S))
        cpu = cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.terminate()
        proc.wait(10)
    lat.sort()
    return {
        "capacity": rps * MEASURE_S / cpu,  # requests per second of server CPU
        "rps": rps,
        "p50_ms": lat[len(lat) // 2] * 1000,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000,
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
    )
    report(
        "gateway_framework_capacity", project["capacity"], raw["capacity"], GOAL,
        "requests/cpu-s", better="higher",
    )  # fmt: skip
    report(
        "gateway_framework_rps", project["rps"], raw["rps"], GOAL, "requests/s", better="higher",
        p50=project["p50_ms"], p99=project["p99_ms"], baseline_p50=raw["p50_ms"],
        baseline_p99=raw["p99_ms"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
