"""What each agent of a worker is doing: its state, progress, dead letters and lag; what the
agents have done (events per projection group, fan-out deliveries, media timings); and the
supervisor that restarts an agent that crashes.

`AgentHealth` and `WorkDone` are plain bookkeeping (no I/O) updated by the agents on the event
loop; the worker publishes the health `snapshot()` to Valkey for `photofeed status`, serves it
at `/healthz`, and turns both into Prometheus metrics at `/metrics` (streams/health_http.py).
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from projections.writes import FeedAdd

CRASH_LIMIT = 3  # crashes within CRASH_WINDOW_S after which the worker gives up (exits non-zero)
CRASH_WINDOW_S = 60.0  # > CRASH_LIMIT restarts' total backoff, so a crash loop is always seen
RESTART_FIRST_S = 0.5  # first restart delay; doubles per crash in the window
# seconds of one successful attempt at an upload (S3 read, variants, S3 writes, append),
# ascending: from a small image to a large one on a busy worker
MEDIA_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MEDIA_OUTCOMES = ("published", "rejected", "dead_lettered")  # what became of an upload
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


@dataclass
class WorkDone:
    """Counters since the worker started (they only grow: Prometheus takes their rate)."""

    projected: dict[tuple[str, str], int] = field(default_factory=dict)  # (agent, group) -> events
    deliveries: dict[str, int] = field(default_factory=dict)  # agent -> feed entries pushed
    # outcome -> uploads; each starts at 0, so Prometheus sees the first one (a series that
    # first appears at 1 shows no increase())
    media: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEDIA_OUTCOMES, 0))
    media_counts: list[int] = field(default_factory=lambda: [0] * (len(MEDIA_BUCKETS) + 1))
    media_seconds: float = 0.0  # sum of the observed processing times

    def applied(
        self, agent: str, group: str, events: Sequence[object], handled: Collection[type]
    ) -> None:
        """Projection group `group` applied a batch of `events` (to every version): count those
        of the types it handles (`handled`). A batch run again after a failure counts again."""
        n = sum(type(e) in handled for e in events)
        if n:
            self.projected[(agent, group)] = self.projected.get((agent, group), 0) + n

    def wrote(self, agent: str, writes: Sequence[object]) -> None:
        """A sink applied `writes`: count the home-feed entries pushed (one per follower)."""
        n = fanout_deliveries(writes)
        if n:
            self.deliveries[agent] = self.deliveries.get(agent, 0) + n

    def media_done(self, outcome: str, seconds: float | None) -> None:
        """An upload ended `outcome` (one of MEDIA_OUTCOMES) after `seconds` of processing
        (None: not timed, e.g. dead-lettered after retries)."""
        self.media[outcome] = self.media.get(outcome, 0) + 1
        if seconds is not None:
            self.media_counts[bisect.bisect_left(MEDIA_BUCKETS, seconds)] += 1
            self.media_seconds += seconds


def fanout_deliveries(writes: Sequence[object]) -> int:
    """Home-feed entries that `writes` push: one per owner of each FeedAdd."""
    return sum(len(w.owners) for w in writes if isinstance(w, FeedAdd))


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
