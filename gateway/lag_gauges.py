"""Consumer-group lag in the gateway's `/metrics`, measured off the request path.

A background task (`watch_lag`, run by the gateway's lifespan) probes each watched consumer group
(infra/lag.py: committed offsets against the true log end from fetch responses) every
`lag_refresh_s`, in a thread of its own; `/metrics` serves the families of the last finished
probe, so a scrape never waits on the broker. A probe that raised or overran its bound shows as
`photofeed_lag_probe_ok{group} 0` with that group's partitions left out (never stale figures
passed off as fresh); `photofeed_lag_probe_age_seconds` says how old the served figures are.
At most one probe runs at a time: a probe that overran is waited for again on the next tick.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.metrics import Metrics
from infra.lag import LagProbeError, PartitionLag, group_lag_families, probe_lag
from infra.settings import Settings

SLACK_S = 1.0  # on top of each group's probe bound: consumer setup and close
log = structlog.get_logger("photofeed.gateway")

Probe = Callable[[str], list[PartitionLag]]  # one group's rows; blocks; raises LagProbeError
Probes = dict[str, list[PartitionLag] | None]  # group -> rows, None: no answer


def watched_groups(settings: Settings) -> list[str]:
    """The worker's consumer group first, then `lag_groups` (comma-separated), each once."""
    extra = (g.strip() for g in settings.lag_groups.split(","))
    return list(dict.fromkeys([settings.worker_group, *(g for g in extra if g)]))


class LagGauges(Collector):
    """The cached lag families of the watched groups. `refresh()` and `collect()` both run on
    the event loop (the probe itself in the executor), so the cache needs no lock."""

    def __init__(
        self,
        groups: Sequence[str],
        probe: Probe,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._groups = list(groups)
        self._probe = probe
        self._timeout_s = timeout_s  # bound of one refresh (every group)
        self._clock = clock
        self._probes: Probes = dict.fromkeys(self._groups)  # nothing measured yet: not ok
        self._measured_at: float | None = None  # clock() when the served figures were taken
        self._duration_s: float | None = None
        self._pending: asyncio.Future[tuple[Probes, float]] | None = None
        self._failing: list[str] = []  # groups last logged as failing (logged on change only)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="lag-probe")

    def collect(self) -> Iterator[Metric]:
        yield from group_lag_families(self._probes)
        age = GaugeMetricFamily(
            "photofeed_lag_probe_age_seconds",
            "seconds since the lag figures served here were measured",
        )
        if self._measured_at is not None:
            age.add_metric([], self._clock() - self._measured_at)
        yield age
        duration = GaugeMetricFamily(
            "photofeed_lag_probe_duration_seconds", "how long the last finished lag probe took"
        )
        if self._duration_s is not None:
            duration.add_metric([], self._duration_s)
        yield duration

    async def refresh(self) -> None:
        """Probe every group once (or wait again for a probe that overran), within the bound;
        past it every group reads as not ok until the probe finishes."""
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(self._executor, self._probe_all)
        done, _ = await asyncio.wait({self._pending}, timeout=self._timeout_s)
        if not done:
            self._probes = dict.fromkeys(self._groups)
            self._note(self._groups, f"no answer within {self._timeout_s:g} s")
            return
        (probes, self._duration_s), self._pending = self._pending.result(), None
        self._note(sorted(g for g, rows in probes.items() if rows is None), "no answer")
        self._probes = probes
        self._measured_at = self._clock()

    async def run(self, every_s: float) -> None:
        """refresh() every `every_s` (from the start of one to the next) until cancelled."""
        while True:
            started = self._clock()
            await self.refresh()
            await asyncio.sleep(max(0.0, every_s - (self._clock() - started)))

    def close(self) -> None:
        """Stop the probe thread (a probe in flight ends within its own bound)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _probe_all(self) -> tuple[Probes, float]:
        """In the probe thread: each group's rows (None: no answer) and the seconds taken."""
        started = self._clock()
        out: Probes = {}
        for group in self._groups:
            try:
                out[group] = self._probe(group)
            except Exception as exc:  # LagProbeError, or any librdkafka error: a gauge, not a crash
                if not isinstance(exc, LagProbeError):
                    log.warning("lag_probe_error", group=group, error=repr(exc)[:300])
                out[group] = None
        return out, self._clock() - started

    def _note(self, failing: list[str], why: str) -> None:
        """Log when the set of failing groups changes (not on every tick of an outage)."""
        if failing and failing != self._failing:
            log.warning("lag_probe_failed", groups=failing, error=why)
        elif not failing and self._failing:
            log.info("lag_probe_recovered", groups=self._failing)
        self._failing = failing


async def watch_lag(settings: Settings, metrics: Metrics) -> None:
    """Serve lag gauges in `metrics` and refresh them every `settings.lag_refresh_s` until
    cancelled (the gateway's lifespan runs this as a task); `lag_refresh_s` 0: no gauges."""
    if settings.lag_refresh_s <= 0:
        return
    groups = watched_groups(settings)
    probe_s = settings.dependency_timeout_s  # a broker silent this long counts as down
    gauges = LagGauges(
        groups,
        functools.partial(probe_lag, settings, timeout_s=probe_s),
        timeout_s=len(groups) * (probe_s + SLACK_S),
    )
    metrics.registry.register(gauges)
    try:
        await gauges.run(settings.lag_refresh_s)
    finally:
        metrics.registry.unregister(gauges)
        gauges.close()
