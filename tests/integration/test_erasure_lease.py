"""An erasure's lease (streams/erasure.py `_keep`), on the real Valkey: renewed while the erasure
runs, and when it is lost (taken over after it expired, or not renewable for LEASE_S - RENEW_S)
the run is cut short, so two workers never run the same erasure at once; a failed run is
recorded and backed off."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from streams import erasure
from streams.keys import ErasureKeys

pytestmark = pytest.mark.stack
USER = 987_654_321


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(erasure, "RENEW_S", 0.05)
    monkeypatch.setattr(erasure, "LEASE_S", 0.5)


async def test_a_kept_lease_outlives_its_timeout_and_a_lost_one_cuts_the_run_short(
    redis: Redis, fast: None
) -> None:
    lease = redis.lock(ErasureKeys.lease(USER), timeout=erasure.LEASE_S, blocking=False)
    assert await lease.acquire()
    run = asyncio.create_task(asyncio.sleep(60))
    keeper = asyncio.create_task(erasure._keep(lease, run, USER))
    try:
        await asyncio.sleep(3 * erasure.LEASE_S)  # three timeouts: renewed all along
        assert await lease.owned()
        assert not run.done()
        await redis.set(ErasureKeys.lease(USER), "another worker")  # expired and taken over
        started = time.monotonic()
        await asyncio.wait({run}, timeout=5)
        assert run.cancelled(), "the run goes on without its lease"
        assert time.monotonic() - started < 1.0
        assert keeper.done()
    finally:
        run.cancel()
        keeper.cancel()
        await redis.delete(ErasureKeys.lease(USER))


async def test_a_lost_lease_raises_lease_lost_and_the_erasure_stays_pending(
    redis: Redis, fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_leased` turns the cut into LeaseLost (an Exception: the runner logs it and moves on)
    while the worker's own cancellation still cancels."""
    flow = erasure.ErasureWorkflow.__new__(erasure.ErasureWorkflow)

    running = asyncio.Event()

    async def slow_run(_user: int) -> erasure.ErasureStatus:
        running.set()
        await asyncio.sleep(60)
        raise AssertionError("not cut short")

    monkeypatch.setattr(flow, "run", slow_run)
    lease = redis.lock(ErasureKeys.lease(USER), timeout=erasure.LEASE_S, blocking=False)
    assert await lease.acquire()
    try:
        leased = asyncio.create_task(flow._leased(USER, lease))
        await asyncio.wait_for(running.wait(), 5)
        await redis.delete(ErasureKeys.lease(USER))  # expired
        with pytest.raises(erasure.LeaseLost):
            await asyncio.wait_for(leased, 5)
        assert await lease.acquire()
        running.clear()
        stopping = asyncio.create_task(flow._leased(USER, lease))
        await asyncio.wait_for(running.wait(), 5)
        stopping.cancel()  # the worker stops: a cancellation, not LeaseLost
        with pytest.raises(asyncio.CancelledError):
            await stopping
    finally:
        await redis.delete(ErasureKeys.lease(USER))


async def test_a_failed_erasure_says_why_and_waits_longer_each_time(redis: Redis) -> None:
    """A run that failed is recorded (`erasure status` shows it) and its next try put off by a
    backoff (RETRY_FIRST_S doubling) on this worker. (The shared stack's worker runs whatever is
    pending, so no fake request is put there.)"""
    flow = erasure.ErasureWorkflow.__new__(erasure.ErasureWorkflow)
    flow._r, flow._failures, flow._retry_at = redis, {}, {}
    try:
        waits = []
        for _ in range(3):
            before = time.monotonic()
            await flow._failed(USER, RuntimeError("the store is down"))
            waits.append(flow._retry_at[USER] - before)
        assert [round(w) for w in waits] == [
            erasure.RETRY_FIRST_S, 2 * erasure.RETRY_FIRST_S, 4 * erasure.RETRY_FIRST_S
        ]  # fmt: skip
        status = await flow.status(USER)
        assert status.last_error is not None
        assert "the store is down" in status.last_error
    finally:
        await redis.delete(ErasureKeys.record(USER))
