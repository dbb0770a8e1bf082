"""Rich tables of the worker's agents and its consumer group's lag, shared by `photofeed status`,
`photofeed top` and `photofeed topics list`. Pure: data in, tables out.

Agents come from the health snapshots workers publish (infra/readiness.py `worker_health`,
streams/health.py); lag from infra/lag.py `probe_lag`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Column, Table

from infra.lag import PartitionLag
from infra.topics import CATALOGUE

NONE = "-"  # shown where a figure is unknown (never committed, no fetch answer, no rate yet)


def fmt(value: int | None) -> str:
    return NONE if value is None else f"{value:,}"


@dataclass(frozen=True, slots=True)
class TopicLag:
    """A topic's partitions summed; a sum is None when any of its parts is unknown."""

    topic: str
    partitions: int
    committed: int | None
    end: int | None
    lag: int | None


def by_topic(lags: Iterable[PartitionLag]) -> list[TopicLag]:
    """Per topic (sorted by name): committed offsets, ends and lags summed over partitions;
    a partition the group never committed counts as committed at its first offset."""
    parts: dict[str, list[PartitionLag]] = {}
    for row in lags:
        parts.setdefault(row.topic, []).append(row)
    out = []
    for topic, rows in sorted(parts.items()):
        committed = [r.committed if r.committed is not None else r.start for r in rows]
        out.append(
            TopicLag(topic, len(rows), _sum(committed), _sum(r.end for r in rows),
                     _sum(r.lag for r in rows))
        )  # fmt: skip
    return out


def _sum(values: Iterable[int | None]) -> int | None:
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def short_agent(name: str) -> str:
    """An agent's name without the repeated `photofeed_` (project_photofeed_users ->
    project_users), so tables fit a terminal."""
    return name.replace("photofeed_", "")


def agent_topics(name: str, agent: dict[str, Any]) -> set[str]:
    """The topics an agent (snapshot entry) reads: those of its positions, and the topic a
    projection agent is named after (streams/app.py), read or not yet."""
    named = {t.name for t in CATALOGUE if name == f"project_{t.name.replace('.', '_')}"}
    return named | {p["topic"] for p in agent["partitions"]}


def states_by_topic(snapshots: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """topic -> "agent: state" of every agent that has read it, over every worker."""
    out: dict[str, list[str]] = {}
    for snap in snapshots:
        for name, agent in sorted(snap["agents"].items()):
            for topic in sorted(agent_topics(name, agent)):
                out.setdefault(topic, []).append(f"{short_agent(name)}: {agent['state']}")
    return out


def partition_table(
    lags: Sequence[PartitionLag], group: str, snapshots: Sequence[dict[str, Any]] = ()
) -> Table:
    """One row per partition: the group's committed offset, the log end, the lag; and, on
    each topic's first row, the state of the agents that read it."""
    states = states_by_topic(snapshots)
    table = Table(
        "topic", "part", "committed", "end", "lag", "agents",
        title=f"consumer group {group}: committed offsets and true log ends",
    )  # fmt: skip
    last = ""
    for row in lags:
        first = row.topic != last
        last = row.topic
        table.add_row(
            row.topic if first else "", str(row.partition), fmt(row.committed), fmt(row.end),
            _lag_text(row.lag), "\n".join(states.get(row.topic, [])) if first else "",
        )  # fmt: skip
    return table


def topic_table(lags: Sequence[PartitionLag], group: str) -> Table:
    """One row per topic: partitions, committed offsets, ends and lag summed."""
    table = Table("topic", "parts", "committed", "end", "lag", title=f"lag of {group}")
    for t in by_topic(lags):
        table.add_row(t.topic, str(t.partitions), fmt(t.committed), fmt(t.end), _lag_text(t.lag))
    return table


def _lag_text(lag: int | None) -> str:
    if lag is None:
        return NONE
    return f"[yellow]{lag:,}[/]" if lag else "0"


class Rates:
    """Events per second of each agent, from successive snapshots' `processed` counts.

    Workers publish a snapshot every couple of seconds, so a rate changes only when a snapshot
    with a newer `at` arrives; until a second one arrives it is unknown (None)."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, str], tuple[float, int]] = {}
        self._rate: dict[tuple[int, str], float] = {}

    def update(self, snapshots: Sequence[dict[str, Any]]) -> None:
        for snap in snapshots:
            at = float(snap["at"])
            for name, agent in snap["agents"].items():
                key = (int(snap["pid"]), name)
                seen = self._last.get(key)
                processed = int(agent["processed"])
                if seen is not None and at > seen[0]:
                    self._rate[key] = max(0.0, (processed - seen[1]) / (at - seen[0]))
                if seen is None or at > seen[0]:
                    self._last[key] = (at, processed)

    def of(self, pid: int, agent: str) -> float | None:
        return self._rate.get((pid, agent))


def agents_table(snapshots: Sequence[dict[str, Any]], rates: Rates | None = None) -> Table:
    """One row per agent of every worker: state, events/s (with `rates`), applied, dead
    letters, lag, crashes, and the last error when any agent has one."""
    errors = any(a["last_error"] for snap in snapshots for a in snap["agents"].values())
    pids = ", ".join(str(snap["pid"]) for snap in snapshots) or "none running"
    table = Table(
        Column("agent", no_wrap=True), Column("state", no_wrap=True),
        *(["events/s"] if rates else []), "applied", "dead letters", "lag", "crashes",
        *(["last error"] if errors else []), title=f"agents (worker pid {pids})",
    )  # fmt: skip
    for snap in snapshots:
        for name, a in sorted(snap["agents"].items()):
            lags = [p["lag"] for p in a["partitions"] if p["lag"] is not None]
            rate = rates.of(int(snap["pid"]), name) if rates else None
            cells = [
                short_agent(name), _state_text(a["state"]),
                *([NONE if rate is None else f"{rate:,.1f}"] if rates else []),
                fmt(a["processed"]), fmt(sum(d["count"] for d in a["dead_lettered"])),
                fmt(sum(lags)) if lags else NONE, str(a["crashes"]),
                *([a["last_error"][:80]] if errors else []),
            ]  # fmt: skip
            table.add_row(*cells)
    if not snapshots:
        table.add_row("no worker publishes its health: is it running?")
    return table


def _state_text(state: str) -> str:
    colour = {"running": "green", "starting": "cyan", "restarting": "yellow"}.get(state, "red")
    return f"[{colour}]{state}[/]"
