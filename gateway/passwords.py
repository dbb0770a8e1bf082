"""Password hashing in its own small, bounded thread pool.

argon2 costs ~20 ms of CPU per hash. In the default executor it queued in front of SQLite search
and S3 calls, so a burst of bad logins slowed every route. Here at most `threads` hashes run and
at most `queue` more wait; any request beyond that is answered at once with 503 `overloaded` +
Retry-After instead of waiting behind the others (a full queue waits about
(threads + queue) / threads * 20 ms). argon2-cffi releases the GIL while it hashes, so the
event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from gateway.accounts import HASHER, verify_hash
from gateway.errors import ApiError

T = TypeVar("T")
RETRY_AFTER_S = 1  # a full queue drains in (threads + queue) * 20 ms / threads, well below this


class PasswordPool:
    """`hash` and `verify` off the event loop, bounded; call `close` at shutdown."""

    def __init__(self, threads: int, queue: int) -> None:
        if threads < 1 or queue < 0:
            raise ValueError("a password pool needs >= 1 thread and a queue >= 0")
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="argon2")
        self._slots = threading.BoundedSemaphore(threads + queue)  # running + waiting
        self.capacity = threads + queue

    async def hash(self, password: str) -> str:
        return await self.run(HASHER.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """accounts.verify_hash in the pool: unknown accounts cost the same as known ones."""
        return await self.run(verify_hash, stored_hash, password)

    async def run(self, fn: Callable[..., T], *args: str | None) -> T:
        """`fn(*args)` on a pool thread; 503 overloaded at once when the pool is full."""
        if not self._slots.acquire(blocking=False):
            raise ApiError(503, "overloaded", "too many password checks at once; retry shortly",
                           {"Retry-After": str(RETRY_AFTER_S)})  # fmt: skip
        try:
            job: Future[T] = self._executor.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        # the slot frees when the job ends (or is cancelled unstarted), not when a caller that
        # gave up stops waiting: the pool never holds more than its capacity of jobs
        job.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(job)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
