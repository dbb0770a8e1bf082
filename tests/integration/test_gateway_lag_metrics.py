"""The gateway's `/metrics` on the real stack: lag gauges of a watched consumer group, measured
in the background, rise by exactly what was appended while the group's worker is stopped and
fall to zero once it runs (the pattern of test_lag_and_tail.py, read through HTTP)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.kafka import KafkaEventLog
from infra.lag import lag_topics
from infra.ports import free_port_block
from infra.processes import wait_until
from infra.readiness import gateway_healthy
from infra.settings import Settings
from infra.stack import Stack
from infra.topics import FOLLOWS
from tests.fixtures import READY_TIMEOUT_S, app_process, eventually
from tests.integration.helpers import IDS, followed, registered

pytestmark = pytest.mark.stack
APPENDED = 5  # follows appended while the private group is stopped
REFRESH_S = 0.5  # the private gateway's lag refresh


@dataclass(frozen=True)
class Scrape:
    """One scrape: per series name, (labels, value) of each sample."""

    samples: dict[str, list[tuple[dict[str, str], float]]]

    def of(self, name: str, **labels: str) -> dict[tuple[str, str], float]:
        """(topic, partition) -> value of `name`'s samples that carry `labels`."""
        return {(s["topic"], s["partition"]): v for s, v in self.samples.get(name, [])
                if labels.items() <= s.items()}  # fmt: skip

    def value(self, name: str, **labels: str) -> float | None:
        found = [v for s, v in self.samples.get(name, []) if labels.items() <= s.items()]
        return found[0] if found else None


async def scrape(client: httpx.AsyncClient) -> Scrape:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return Scrape(out)


async def test_gateway_metrics_show_a_stopped_groups_lag_rise_and_drain(
    settings: Settings, stack: Stack, event_log: KafkaEventLog
) -> None:
    private = settings.with_(
        worker_group=f"glag-{uuid.uuid4().hex[:8]}", redis_db=8, worker_port=0, worker_appends=False
    )
    group = private.worker_group
    own = settings.with_(gateway_port=free_port_block(1), lag_groups=group, lag_refresh_s=REFRESH_S)
    gateway = app_process(own, f"gateway-{group}", "gateway")
    worker = app_process(private, f"worker-{group}", "worker")
    partitions = settings.topic_partitions * len(lag_topics())

    def probed(accept: Callable[[Scrape], bool]) -> Callable[[Scrape], bool]:
        return lambda s: s.value("photofeed_lag_probe_ok", group=group) == 1.0 and accept(s)

    def drained(s: Scrape) -> bool:
        lag = s.of("photofeed_group_lag", group=group)
        return len(lag) == partitions and not any(lag.values())

    await event_log.append(registered(f"glag{uuid.uuid4().hex[:8]}"))  # a log to lag behind
    try:
        gateway.start()
        if not wait_until(lambda: gateway_healthy(own), READY_TIMEOUT_S, 0.1):
            raise RuntimeError("the gateway did not start:\n" + gateway.log_tail())
        async with httpx.AsyncClient(base_url=own.gateway_url, timeout=5) as client:

            async def metrics() -> Scrape:
                return await scrape(client)

            def every_partition(s: Scrape) -> bool:
                return len(s.of("photofeed_group_lag", group=group)) == partitions

            # a group that never ran: every partition's lag is known, nothing is committed
            first = await eventually(metrics, probed(every_partition), timeout_s=30, interval_s=0.2)
            assert first.of("photofeed_group_committed_offset", group=group) == {}
            assert first.value("photofeed_lag_probe_ok", group=settings.worker_group) == 1.0
            assert sum(first.of("photofeed_group_lag", group=group).values()) > 0
            assert (first.value("photofeed_lag_probe_age_seconds") or 0) < READY_TIMEOUT_S

            worker.start()
            caught_up = await eventually(metrics, probed(drained), timeout_s=150, interval_s=0.5)
            ends = caught_up.of("photofeed_log_end_offset")
            committed = caught_up.of("photofeed_group_committed_offset", group=group)
            assert committed, "a group that caught up committed where it read"
            assert all(0 < offset <= ends[k] for k, offset in committed.items())
            worker.stop()

            fans = [followed(IDS.next_id(), IDS.next_id()) for _ in range(APPENDED)]
            await event_log.append(*fans)

            def behind(s: Scrape) -> bool:
                lag = s.of("photofeed_group_lag", group=group)
                return sum(v for (topic, _), v in lag.items() if topic == FOLLOWS.name) == APPENDED

            stopped = await eventually(metrics, probed(behind), timeout_s=30, interval_s=0.2)
            assert stopped.of("photofeed_group_committed_offset", group=group) == committed
            grown = stopped.of("photofeed_log_end_offset")
            follows = [k for k in grown if k[0] == FOLLOWS.name]
            assert sum(grown[k] - ends.get(k, 0) for k in follows) >= APPENDED

            worker.start()
            await eventually(metrics, probed(drained), timeout_s=90, interval_s=0.5)
    finally:
        worker.stop()
        gateway.stop()
