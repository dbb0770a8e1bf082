"""Throughput of servers on the same requests, measured in alternating rounds (closed loop), with
where the CPU went: each server's own, Valkey's, the load generator's.

On a shared 2-core machine the load drifts by the second; running the gateway and its bare
baseline in turns (several short rounds each, after a warm-up) exposes both to the same drift, so
their ratio holds while the absolute figures wander.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.bench_framework import cpu_seconds
from bench.loadgen import Load, Target, closed_loop

ROUNDS = 3  # turns per server
ROUND_S = 1.5  # closed-loop seconds per turn
WARMUP_S = 0.5
CONNECTIONS = 32  # as bench_framework


@dataclass(frozen=True, slots=True)
class Server:
    port: int
    pid: int


@dataclass(slots=True)
class Throughput:
    """Closed-loop rounds of one server, summed."""

    count: int = 0
    elapsed_s: float = 0.0
    server_cpu_s: float = 0.0
    valkey_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, load: Load, server_cpu_s: float, valkey_cpu_s: float) -> None:
        self.count += load.count
        self.elapsed_s += load.elapsed_s
        self.server_cpu_s += server_cpu_s
        self.valkey_cpu_s += valkey_cpu_s
        self.client_cpu_s += load.client_cpu_s
        self.statuses.update(load.status)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def cpu_ms(self) -> dict[str, float]:
        """CPU per request in ms: the server's, Valkey's, the load generator's."""
        n = max(1, self.count)
        return {"server_cpu_ms": 1000 * self.server_cpu_s / n,
                "valkey_cpu_ms": 1000 * self.valkey_cpu_s / n,
                "loadgen_cpu_ms": 1000 * self.client_cpu_s / n}  # fmt: skip

    def failures(self) -> dict[str, float]:
        """Failed requests by status (`s0`: no answer) for an INFO line."""
        return {f"s{s}": n for s, n in sorted(self.statuses.items()) if not 200 <= s < 300}


def alternate(
    servers: Sequence[Server], valkey_pid: int, targets: Sequence[Target]
) -> list[Throughput]:
    """Each server's throughput on `targets`, ROUNDS turns of ROUND_S each after a warm-up."""
    for server in servers:
        closed_loop(server.port, targets, WARMUP_S, connections=CONNECTIONS)
    totals = [Throughput() for _ in servers]
    for _ in range(ROUNDS):
        for server, total in zip(servers, totals, strict=True):
            cpu, valkey = cpu_seconds(server.pid), cpu_seconds(valkey_pid)
            load = closed_loop(server.port, targets, ROUND_S, connections=CONNECTIONS)
            total.add(load, cpu_seconds(server.pid) - cpu, cpu_seconds(valkey_pid) - valkey)
    return totals
