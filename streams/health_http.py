"""The worker's loopback endpoint: `/healthz` (each agent's state and lag, JSON; 503 when an
agent is not running) and `/metrics` (Prometheus text: processed, dead letters per source topic
and reason, lag per partition, crashes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

Snapshot = Callable[[], dict[str, Any]]


def healthy(snapshot: dict[str, Any]) -> bool:
    """Every agent is running (or still starting)."""
    return all(a["state"] in {"running", "starting"} for a in snapshot["agents"].values())


class _Collector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        agents = self._snapshot()["agents"]
        processed = CounterMetricFamily(
            "photofeed_worker_messages", "messages applied", labels=["agent"]
        )
        dead = CounterMetricFamily(
            "photofeed_dead_letters", "messages set aside", labels=["agent", "topic", "reason"]
        )
        crashes = CounterMetricFamily("photofeed_agent_crashes", "agent crashes", labels=["agent"])
        up = GaugeMetricFamily("photofeed_agent_running", "1 while running", labels=["agent"])
        lag = GaugeMetricFamily(
            "photofeed_consumer_lag",
            "log end minus position",
            labels=["agent", "topic", "partition"],
        )
        for name, a in agents.items():
            processed.add_metric([name], a["processed"])
            crashes.add_metric([name], a["crashes"])
            up.add_metric([name], 1.0 if a["state"] == "running" else 0.0)
            for d in a["dead_lettered"]:
                dead.add_metric([name, d["topic"], d["reason"]], d["count"])
            for p in a["partitions"]:
                if p["lag"] is not None:
                    lag.add_metric([name, p["topic"], str(p["partition"])], p["lag"])
        yield from (processed, dead, crashes, up, lag)


def health_app(snapshot: Snapshot) -> web.Application:
    registry = CollectorRegistry()
    registry.register(_Collector(snapshot))

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


async def serve(snapshot: Snapshot, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller keeps the runner and calls `cleanup()` at shutdown."""
    runner = web.AppRunner(health_app(snapshot), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
