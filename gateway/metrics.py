"""Prometheus metrics of the gateway, observed by the dispatcher and served at `/metrics`.

Observations go into plain dicts (the event loop is single-threaded, so no locks) and are turned
into metric families only when Prometheus scrapes: ~1 us per request instead of ~5 us with
prometheus_client's locked label children.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5)  # seconds, ascending


class Metrics(Collector):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests: dict[tuple[str, str, int], int] = {}
        # (method, route) -> [count per bucket (+Inf last)], sum of seconds
        self._latency: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        self.registry.register(self)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        hist = self._latency.get((method, route))
        if hist is None:
            hist = ([0] * (len(BUCKETS) + 1), [0.0])
            self._latency[(method, route)] = hist
        hist[0][bisect.bisect_left(BUCKETS, seconds)] += 1
        hist[1][0] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "photofeed_http_requests",
            "HTTP requests answered",
            labels=["method", "route", "status"],
        )
        for (method, route, status), n in sorted(self._requests.items()):
            requests.add_metric([method, route, str(status)], n)
        yield requests
        latency = HistogramMetricFamily(
            "photofeed_http_request_seconds", "HTTP request latency", labels=["method", "route"]
        )
        for (method, route), (counts, total) in sorted(self._latency.items()):
            cumulative, buckets = 0, []
            for bound, n in zip((*BUCKETS, float("inf")), counts, strict=True):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric([method, route], buckets, total[0])
        yield latency

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return metrics.render()
