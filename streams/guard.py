"""Runs a step over a batch of consumed messages under the failure policy.

The step sees the whole batch first (one pipeline per batch is what makes projection fast). When
it fails on bad input, the batch is split in halves and each half runs again, in order, down to
single messages: a poison message is found in O(log n) extra runs and dead-lettered alone, every
other message is applied (projections are idempotent, so running a prefix twice is harmless).
An outage is retried by the policy; once its budget is spent the whole batch is dead-lettered,
so no partition waits forever.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog

from streams.deadletters import Consumed, DeadLetterSink
from streams.failures import Failed, Failure, RetryPolicy

Step = Callable[[Sequence[Consumed]], Awaitable[None]]
log = structlog.get_logger("photofeed.worker")


class Guard:
    def __init__(self, policy: RetryPolicy, dead_letters: DeadLetterSink) -> None:
        self._policy = policy
        self._dead = dead_letters

    async def run(self, stage: str, items: Sequence[Consumed], step: Step) -> int:
        """Apply `step` to `items`; return how many messages were dead-lettered.
        Returns only when every message was applied or dead-lettered."""
        if not items:
            return 0
        try:
            await self._policy.run(stage, lambda: step(items))
            return 0
        except Failed as failed:
            if failed.failure.kind == "outage" or len(items) == 1:
                await self.dead_letter(items, failed.failure)
                return len(items)
        mid = len(items) // 2
        return await self.run(stage, items[:mid], step) + await self.run(stage, items[mid:], step)

    async def dead_letter(self, items: Sequence[Consumed], failure: Failure) -> None:
        """Set `items` aside with `failure` (the sink retries through broker outages)."""
        for item in items:
            log.warning(
                "dead_letter", topic=item.topic, partition=item.partition, offset=item.offset,
                stage=failure.stage, reason=failure.kind, error_class=failure.error_class,
                error=failure.message[:300], attempts=failure.attempts,
            )  # fmt: skip
            await self._dead.send(item, failure)
