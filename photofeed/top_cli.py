"""`photofeed top`: a live view of the worker — each agent's state and events/s, the consumer
group's lag per topic, dead letters and crashes — refreshed every second until Ctrl-C.

Agents come from the health snapshots the workers publish to Valkey; lag from a fresh probe of
the broker each refresh (committed offsets against log ends from fetch responses).
"""

from __future__ import annotations

import time
from datetime import datetime

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from infra.lag import LagProbeError, PartitionLag, lag_topics, probe_lag
from infra.logs import configure_logging
from infra.readiness import worker_health
from infra.settings import Settings, load_settings
from infra.topics import DEAD_LETTER
from photofeed.lag_views import Rates, agents_table, fmt, topic_table

REFRESH_S = 1.0  # one frame per second: one Valkey read and one broker probe each
TOP_PROBE_S = 0.8  # < REFRESH_S: a slow broker delays a frame, never the Ctrl-C


def frame(settings: Settings, rates: Rates) -> Group:
    """One screenful: agents (rates updated from the snapshots now published), lag per topic,
    and the dead letters in the log."""
    snapshots = worker_health(settings)
    rates.update(snapshots)
    parts: list[RenderableType] = [agents_table(snapshots, rates)]
    try:
        lags = probe_lag(settings, topics=[*lag_topics(), DEAD_LETTER.name], timeout_s=TOP_PROBE_S)
        consumed = [r for r in lags if r.topic != DEAD_LETTER.name]
        parts.append(topic_table(consumed, settings.worker_group))
        parts.append(Text(f"dead letters in the log: {_dead_letters(lags)}"))
    except LagProbeError as exc:
        parts.append(Text(f"lag unknown: {exc}", style="red"))
    parts.append(Text(f"{datetime.now():%H:%M:%S}  every {REFRESH_S:g} s  Ctrl-C quits", "dim"))
    return Group(*parts)


def _dead_letters(lags: list[PartitionLag]) -> str:
    rows = [r for r in lags if r.topic == DEAD_LETTER.name]
    if not rows or any(r.end is None for r in rows):
        return "-"
    return fmt(sum((r.end or 0) - (r.start or 0) for r in rows))


def top(
    once: bool = typer.Option(False, "--once", help="Print one frame and exit."),
    interval: float = typer.Option(REFRESH_S, min=0.2, help="Seconds between frames."),
) -> None:
    """Watch the worker live: agents, events/s, lag per topic, dead letters, crashes."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    rates = Rates()
    console = Console()
    if once:
        console.print(frame(settings, rates))
        return
    try:
        with Live(frame(settings, rates), console=console, auto_refresh=False) as live:
            next_at = time.monotonic()
            while True:
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
                live.update(frame(settings, rates), refresh=True)
    except KeyboardInterrupt:
        pass
