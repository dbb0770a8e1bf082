"""A worker killed mid-batch loses and duplicates nothing once it starts again."""

from __future__ import annotations

import pytest

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from tests.fixtures import app_process, eventually
from tests.integration.follow_storm import follow_storm

pytestmark = pytest.mark.stack


async def test_sigkill_mid_stream_then_restart_converges_exactly(
    settings: Settings, event_log: KafkaEventLog
) -> None:
    async with follow_storm(settings, event_log, "crash", redis_db=3) as storm:
        proc = app_process(storm.settings, "crash-worker", "worker")
        proc.start()
        try:
            await eventually(storm.follower_count, lambda n: n > 0, timeout_s=60, interval_s=0.01)
            proc.kill()  # SIGKILL: no shutdown hooks, no final commit
            partial = await storm.followers()
            assert partial, "the worker had started"
            assert partial != storm.expected, "the kill must land mid-stream"
            proc.start()
            await eventually(storm.follower_count, lambda n: n == len(storm.expected), 90)
            assert await storm.exactly_expected()
        finally:
            proc.stop()
