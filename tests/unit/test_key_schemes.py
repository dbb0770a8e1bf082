"""The key schemes of the worker's own state and of the workers' announcements spell the keys
stored before they had one (stored data must stay readable after an upgrade), and worker ids
wrap around the Snowflake's 10 worker bits."""

from __future__ import annotations

import pytest

from infra.readiness import WorkerKeys
from infra.worker_ids import WorkerIdKeys, worker_id
from schemas.ids import MAX_WORKER, SnowflakeGenerator
from streams.keys import BlocklistKeys, CelebrityKeys, DeadLetterKeys, ErasureKeys


def test_the_worker_state_keys_are_the_stored_ones() -> None:
    assert ErasureKeys.record(42) == "erasure:{42}"
    assert BlocklistKeys.ENTRIES == "moderation:blocklist"
    assert CelebrityKeys.flagged(42) == "celebrity:flagged:42"
    assert DeadLetterKeys.RESOLVED == "deadletters:resolved"


def test_the_announcement_keys_are_the_stored_ones() -> None:
    assert WorkerKeys.ready(4242) == "worker:ready:4242"
    assert WorkerKeys.health(4242) == "worker:health:4242"
    assert WorkerKeys.HEALTH_PATTERN == "worker:health:*"
    assert WorkerIdKeys.COUNTER == "snowflake:worker-ids"


@pytest.mark.parametrize(
    ("lease", "expected"), [(0, 0), (1, 1), (MAX_WORKER, MAX_WORKER), (1024, 0), (1025, 1)]
)
def test_a_lease_wraps_around_the_worker_bits(lease: int, expected: int) -> None:
    assert worker_id(lease) == expected
    SnowflakeGenerator(worker_id(lease))  # always a worker id the generator accepts
