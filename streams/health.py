"""What each agent of a worker is doing: its state, progress, dead letters and lag, and the
supervisor that restarts an agent that crashes.

`AgentHealth` is plain bookkeeping (no I/O) updated by the agents; the worker publishes its
`snapshot()` to Valkey for `photofeed status`, serves it at `/healthz`, and turns it into
Prometheus metrics at `/metrics` (see streams/health_http.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

CRASH_LIMIT = 3  # crashes within CRASH_WINDOW_S after which the worker gives up (exits non-zero)
CRASH_WINDOW_S = 60.0  # > CRASH_LIMIT restarts' total backoff, so a crash loop is always seen
RESTART_FIRST_S = 0.5  # first restart delay; doubles per crash in the window
log = structlog.get_logger("photofeed.worker")


@dataclass
class AgentState:
    state: str = "starting"  # starting | running | restarting | crashed
    processed: int = 0  # messages applied (dead letters excluded)
    dead_lettered: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, reason)
    crashes: int = 0
    last_error: str = ""
    last_batch_at: float = 0.0  # unix seconds
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to read


class AgentHealth:
    def __init__(self) -> None:
        self.agents: dict[str, AgentState] = {}

    def of(self, agent: str) -> AgentState:
        return self.agents.setdefault(agent, AgentState())

    def batch_done(
        self, agent: str, positions: dict[tuple[str, int], int], applied: int, at: float
    ) -> None:
        state = self.of(agent)
        state.state, state.last_batch_at = "running", at
        state.processed += applied
        state.positions.update(positions)

    def dead_lettered(self, agent: str, topic: str, reason: str, n: int = 1) -> None:
        counts = self.of(agent).dead_lettered
        counts[(topic, reason)] = counts.get((topic, reason), 0) + n

    def snapshot(self, highwater: Callable[[str, int], int | None]) -> dict[str, Any]:
        """JSON-ready: per agent its state, counts and per-partition position, end and lag.
        `highwater(topic, partition)` is the log end seen in fetch responses (None: unknown)."""
        out: dict[str, Any] = {}
        for name, s in sorted(self.agents.items()):
            partitions = []
            for (topic, part), pos in sorted(s.positions.items()):
                end = highwater(topic, part)
                lag = None if end is None else max(0, end - pos)
                partitions.append(
                    {"topic": topic, "partition": part, "position": pos, "end": end, "lag": lag}
                )
            out[name] = {
                "state": s.state,
                "processed": s.processed,
                "dead_lettered": [
                    {"topic": t, "reason": r, "count": n}
                    for (t, r), n in sorted(s.dead_lettered.items())
                ],
                "crashes": s.crashes,
                "last_error": s.last_error,
                "last_batch_at": s.last_batch_at,
                "partitions": partitions,
            }
        return out


async def supervise(
    agent: str,
    run: Callable[[], Awaitable[None]],
    health: AgentHealth,
    give_up: Callable[[str], None],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run `run` and restart it with backoff when it raises; after CRASH_LIMIT crashes within
    CRASH_WINDOW_S call `give_up(reason)` (the worker exits non-zero so its process manager
    restarts it from the committed offsets). Cancellation stops it quietly."""
    crashes: deque[float] = deque()
    state = health.of(agent)
    while True:
        try:
            state.state = "running"
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            now = clock()
            crashes.append(now)
            while crashes and now - crashes[0] > CRASH_WINDOW_S:
                crashes.popleft()
            state.crashes += 1
            state.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("agent_crashed", agent=agent, crashes_in_window=len(crashes))
            if len(crashes) >= CRASH_LIMIT:
                state.state = "crashed"
                give_up(f"agent {agent} crashed {len(crashes)} times in {CRASH_WINDOW_S:g} s")
                return
            state.state = "restarting"
            await sleep(RESTART_FIRST_S * 2 ** (len(crashes) - 1))
