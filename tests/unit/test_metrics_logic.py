"""The gateway's lag gauges (served from a cache a background refresh fills; a scrape never
waits on a probe; a failed or overrunning probe reads as not ok) and the worker's work counters
(events per projection group, fan-out deliveries, media outcomes and timings) in Prometheus
text."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.lag_gauges import LagGauges, watched_groups
from infra.lag import LagProbeError, PartitionLag
from infra.settings import Settings
from projections.writes import FeedAdd, PutUser
from streams.health import MEDIA_BUCKETS, WorkDone, fanout_deliveries
from streams.health_http import work_families
from tests.fixtures import eventually

WAIT_S = 5.0  # bound on any wait for the probe thread in these tests


def samples(families: Iterable[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def probe_ok(gauges: LagGauges) -> dict[str, float]:
    return {dict(k[1])["group"]: v for k, v in samples(gauges.collect()).items()
            if k[0] == "photofeed_lag_probe_ok"}  # fmt: skip


class BlockingProbe:
    """A probe that answers only when released, and counts its calls."""

    def __init__(self, rows: list[PartitionLag]) -> None:
        self.rows = rows
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, group: str) -> list[PartitionLag]:
        self.calls += 1
        assert self.release.wait(WAIT_S), "the test never released the probe"
        return self.rows


def test_watched_groups_put_the_worker_group_first_once() -> None:
    settings = Settings(worker_group="w", lag_groups=" a, w,,b ,a")
    assert watched_groups(settings) == ["w", "a", "b"]
    assert watched_groups(Settings()) == ["photofeed-worker"]


async def test_a_scrape_never_waits_for_a_probe_and_sees_it_once_done() -> None:
    probe = BlockingProbe([PartitionLag("t", 0, 3, 0, 10)])
    gauges = LagGauges(["g"], probe, timeout_s=WAIT_S)
    try:
        refresh = asyncio.create_task(gauges.refresh())
        await asyncio.sleep(0)  # the probe is in flight
        started = time.perf_counter()
        assert probe_ok(gauges) == {"g": 0.0}  # nothing measured yet
        assert time.perf_counter() - started < 0.05
        probe.release.set()
        await asyncio.wait_for(refresh, WAIT_S)
        got = samples(gauges.collect())
        labels = (("group", "g"), ("partition", "0"), ("topic", "t"))
        assert got[("photofeed_group_lag", labels)] == 7
        assert got[("photofeed_log_end_offset", (("partition", "0"), ("topic", "t")))] == 10
        assert probe_ok(gauges) == {"g": 1.0}
        assert 0 <= got[("photofeed_lag_probe_age_seconds", ())] < WAIT_S
    finally:
        probe.release.set()
        gauges.close()


async def test_an_overrunning_probe_reads_as_not_ok_and_is_waited_for_not_repeated() -> None:
    probe = BlockingProbe([PartitionLag("t", 0, 5, 0, 5)])
    gauges = LagGauges(["g"], probe, timeout_s=0.05)
    try:
        await asyncio.wait_for(gauges.refresh(), WAIT_S)  # overran its bound
        assert probe_ok(gauges) == {"g": 0.0}
        assert not [k for k in samples(gauges.collect()) if k[0] == "photofeed_group_lag"]
        probe.release.set()
        await asyncio.wait_for(gauges.refresh(), WAIT_S)  # picks up the same probe's answer
        assert probe.calls == 1, "at most one probe at a time"
        assert probe_ok(gauges) == {"g": 1.0}
        await asyncio.wait_for(gauges.refresh(), WAIT_S)
        assert probe.calls == 2
    finally:
        probe.release.set()
        gauges.close()


async def test_a_failed_group_is_left_out_and_log_ends_are_reported_once() -> None:
    def probe(group: str) -> list[PartitionLag]:
        if group == "down":
            raise LagProbeError("no answer")
        if group == "odd":
            raise RuntimeError("anything else librdkafka throws")
        end = 12 if group == "a" else 11  # probed a moment apart: the later end wins
        return [PartitionLag("t", 0, 2, 0, end)]

    gauges = LagGauges(["a", "b", "down", "odd"], probe, timeout_s=WAIT_S)
    try:
        await asyncio.wait_for(gauges.refresh(), WAIT_S)
        got = samples(gauges.collect())
        assert probe_ok(gauges) == {"a": 1.0, "b": 1.0, "down": 0.0, "odd": 0.0}
        lags = {dict(k[1])["group"]: v for k, v in got.items() if k[0] == "photofeed_group_lag"}
        assert lags == {"a": 10.0, "b": 9.0}
        ends = [v for k, v in got.items() if k[0] == "photofeed_log_end_offset"]
        assert ends == [12.0]
        assert got[("photofeed_lag_probe_duration_seconds", ())] >= 0
    finally:
        gauges.close()


async def test_run_refreshes_until_cancelled() -> None:
    calls: list[str] = []

    def probe(group: str) -> list[PartitionLag]:
        calls.append(group)
        return [PartitionLag("t", 0, len(calls), 0, 100)]

    def lag() -> float:
        return sum(v for k, v in samples(gauges.collect()).items() if k[0] == "photofeed_group_lag")

    async def refreshed() -> int:
        return len(calls)

    gauges = LagGauges(["g"], probe, timeout_s=WAIT_S)
    task = asyncio.create_task(gauges.run(every_s=0.01))
    try:
        await eventually(refreshed, lambda n: n >= 3, timeout_s=WAIT_S, interval_s=0.01)
        assert lag() <= 100 - 2  # the figures follow the newer probes
    finally:
        task.cancel()
        gauges.close()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_work_counts_only_handled_events_and_pushed_feed_entries() -> None:
    work = WorkDone()
    work.applied("a", "graph", [1, "not handled", 2], {int})
    work.applied("a", "feeds", ["x"], {int})  # nothing it handles: no sample at all
    assert work.projected == {("a", "graph"): 2}
    writes = [FeedAdd((1, 2, 3), 9, 1), PutUser(1, "x", 1, 1), FeedAdd((4,), 8, 1)]
    assert fanout_deliveries(writes) == 4
    work.wrote("a", writes)
    work.wrote("a", [PutUser(1, "x", 1, 1)])
    assert work.deliveries == {"a": 4}


def test_media_timings_land_in_the_right_buckets_in_prometheus_text() -> None:
    assert list(MEDIA_BUCKETS) == sorted(MEDIA_BUCKETS)
    work = WorkDone()
    work.media_done("published", 0.3)
    work.media_done("published", 0.05)  # a bound is inclusive (le)
    work.media_done("rejected", 100.0)
    work.media_done("dead_lettered", None)
    work.projected[("project_photofeed_posts", "feeds")] = 5
    work.deliveries["project_photofeed_posts"] = 7

    class Work:
        def collect(self) -> list[Metric]:
            return work_families(work)

    registry = CollectorRegistry()
    registry.register(Work())
    text = generate_latest(registry).decode()
    for name, kind in [("photofeed_projection_events_total", "counter"),
                       ("photofeed_fanout_deliveries_total", "counter"),
                       ("photofeed_media_uploads_total", "counter"),
                       ("photofeed_media_processing_seconds", "histogram")]:  # fmt: skip
        assert f"# HELP {name} " in text
        assert f"# TYPE {name} {kind}" in text
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    got = samples(parsed.values())
    assert got[("photofeed_media_uploads_total", (("outcome", "published"),))] == 2
    assert got[("photofeed_media_uploads_total", (("outcome", "dead_lettered"),))] == 1
    bucket = "photofeed_media_processing_seconds_bucket"
    assert got[(bucket, (("le", "0.05"),))] == 1
    assert got[(bucket, (("le", "0.5"),))] == 2
    assert got[(bucket, (("le", "60.0"),))] == 2
    assert got[(bucket, (("le", "+Inf"),))] == 3
    assert got[("photofeed_media_processing_seconds_count", ())] == 3
    assert abs(got[("photofeed_media_processing_seconds_sum", ())] - 100.35) < 1e-9
    key = (("agent", "project_photofeed_posts"), ("group", "feeds"))
    assert got[("photofeed_projection_events_total", key)] == 5
    assert got[("photofeed_fanout_deliveries_total", (("agent", "project_photofeed_posts"),))] == 7
