"""The worker's loopback endpoint: `/healthz` (each agent's state and lag, JSON; 503 when an
agent is not running) and `/metrics` (Prometheus text: messages and events per projection group
applied, dead letters per source topic and reason, fan-out deliveries, media outcomes and
processing seconds, lag per partition, agent states and crashes)."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from streams.failures import Kind
from streams.health import MEDIA_BUCKETS, WorkDone

Snapshot = Callable[[], dict[str, Any]]
REASONS: tuple[Kind, ...] = typing.get_args(Kind)  # a dead letter's reason


def healthy(snapshot: dict[str, Any]) -> bool:
    """Every agent is running (or still starting)."""
    return all(a["state"] in {"running", "starting"} for a in snapshot["agents"].values())


class _Collector(Collector):
    def __init__(self, snapshot: Snapshot, work: WorkDone) -> None:
        self._snapshot = snapshot
        self._work = work

    def collect(self) -> Iterator[Metric]:
        yield from agent_families(self._snapshot()["agents"])
        yield from work_families(self._work)


def agent_families(agents: dict[str, Any]) -> list[Metric]:
    """Per agent of a health snapshot (AgentHealth.snapshot): messages applied, dead letters,
    crashes, whether it runs, and its lag per partition."""
    processed = CounterMetricFamily(
        "photofeed_worker_messages", "messages applied (dead letters excluded)", labels=["agent"]
    )
    dead = CounterMetricFamily(
        "photofeed_dead_letters", "messages set aside", labels=["agent", "topic", "reason"]
    )
    crashes = CounterMetricFamily("photofeed_agent_crashes", "agent crashes", labels=["agent"])
    up = GaugeMetricFamily("photofeed_agent_running", "1 while running", labels=["agent"])
    lag = GaugeMetricFamily(
        "photofeed_consumer_lag",
        "log end (from fetch responses) minus the agent's position",
        labels=["agent", "topic", "partition"],
    )
    for name, a in agents.items():
        processed.add_metric([name], a["processed"])
        crashes.add_metric([name], a["crashes"])
        up.add_metric([name], 1.0 if a["state"] == "running" else 0.0)
        # a 0 for each source topic and reason until one counts: a series that first appears
        # at 1 has no increase() in Prometheus, so the first dead letter would go unseen
        counts = dict.fromkeys(((p["topic"], r) for p in a["partitions"] for r in REASONS), 0)
        counts |= {(d["topic"], d["reason"]): d["count"] for d in a["dead_lettered"]}
        for (topic, reason), n in sorted(counts.items()):
            dead.add_metric([name, topic, reason], n)
        for p in a["partitions"]:
            if p["lag"] is not None:
                lag.add_metric([name, p["topic"], str(p["partition"])], p["lag"])
    return [processed, dead, crashes, up, lag]


def work_families(work: WorkDone) -> list[Metric]:
    """Events per projection group, fan-out deliveries, media outcomes and timings."""
    projected = CounterMetricFamily(
        "photofeed_projection_events",
        "events applied by each projection group (to every live version); rate() is events/s",
        labels=["agent", "group"],
    )
    for (agent, group), n in sorted(work.projected.items()):
        projected.add_metric([agent, group], n)
    deliveries = CounterMetricFamily(
        "photofeed_fanout_deliveries",
        "home-feed entries pushed (one per follower of a post, and follow backfills)",
        labels=["agent"],
    )
    for agent, n in sorted(work.deliveries.items()):
        deliveries.add_metric([agent], n)
    uploads = CounterMetricFamily(
        "photofeed_media_uploads",
        "uploads the media agent finished, by outcome (published | rejected | dead_lettered)",
        labels=["outcome"],
    )
    for outcome, n in sorted(work.media.items()):
        uploads.add_metric([outcome], n)
    seconds = HistogramMetricFamily(
        "photofeed_media_processing_seconds",
        "seconds from taking an upload to its result events appended",
    )
    cumulative, buckets = 0, []
    for bound, n in zip((*MEDIA_BUCKETS, float("inf")), work.media_counts, strict=True):
        cumulative += n
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
    seconds.add_metric([], buckets, work.media_seconds)
    return [projected, deliveries, uploads, seconds]


def health_app(snapshot: Snapshot, work: WorkDone) -> web.Application:
    registry = CollectorRegistry()
    registry.register(_Collector(snapshot, work))

    async def healthz(_request: web.Request) -> web.Response:
        snap = snapshot()
        return web.Response(
            body=orjson.dumps(snap), status=200 if healthy(snap) else 503,
            content_type="application/json",
        )  # fmt: skip

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(snapshot: Snapshot, work: WorkDone, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller keeps the runner and calls `cleanup()` at shutdown."""
    runner = web.AppRunner(health_app(snapshot, work), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
