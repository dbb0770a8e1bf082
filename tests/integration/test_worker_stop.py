"""A worker stopped with SIGTERM mid-stream exits within the grace period on its own (no SIGKILL
escalation), and once started again the projection is exact: nothing lost, nothing twice."""

from __future__ import annotations

import time

import pytest

from infra.kafka import KafkaEventLog
from infra.processes import STOP_GRACE_S
from infra.settings import Settings
from tests.fixtures import app_process, await_worker_ready, eventually
from tests.integration.follow_storm import follow_storm

pytestmark = pytest.mark.stack


async def test_sigterm_mid_stream_stops_in_time_and_restart_converges_exactly(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    async with follow_storm(settings, event_log, "stop", redis_db=4) as storm:
        proc = app_process(storm.settings, "stop-worker", "worker")
        proc.start()
        try:
            await eventually(storm.follower_count, lambda n: n > 0, timeout_s=60, interval_s=0.01)
            pid = proc.pid()
            started = time.monotonic()
            proc.stop(grace_s=STOP_GRACE_S + 20)  # we measure; escalation would hide a hang
            took = time.monotonic() - started
            assert took < STOP_GRACE_S, f"SIGTERM took {took:.1f} s\n{proc.log_tail()}"
            assert pid is not None
            proc.start()
            await_worker_ready(storm.settings, proc)
            await eventually(storm.follower_count, lambda n: n == len(storm.expected), 90)
            assert await storm.exactly_expected()
        finally:
            proc.stop()
