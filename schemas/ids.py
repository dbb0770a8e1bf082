"""Snowflake-style 64-bit ids: 41-bit milliseconds since EPOCH_MS, 10-bit worker, 12-bit sequence.

Ids from one generator strictly increase, even when the wall clock steps backwards: the generator
keeps its own logical millisecond and never reissues one, borrowing from the future when needed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z; ids stay positive until year 2094 (41 bits)
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1  # == 1023
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1  # == 4095 ids per worker per millisecond
_TIME_SHIFT = WORKER_BITS + SEQUENCE_BITS  # == 22


class SnowflakeGenerator:
    """Thread-safe generator for one worker id; `clock` returns wall-clock milliseconds."""

    def __init__(self, worker_id: int, clock: Callable[[], int] | None = None) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker_id must be in 0..{MAX_WORKER}, got {worker_id}")
        self._worker = worker_id
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.Lock()
        self._last_ms = 0
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = self._clock()
            if now > self._last_ms:
                self._last_ms, self._sequence = now, 0
            elif self._sequence < MAX_SEQUENCE:
                self._sequence += 1  # same millisecond, or the clock went backwards
            else:
                self._last_ms, self._sequence = self._last_ms + 1, 0
            return (
                ((self._last_ms - EPOCH_MS) << _TIME_SHIFT)
                | (self._worker << SEQUENCE_BITS)
                | self._sequence
            )


def id_to_ms(snowflake: int) -> int:
    """Unix milliseconds encoded in an id (its creation time)."""
    return (snowflake >> _TIME_SHIFT) + EPOCH_MS


def id_to_datetime(snowflake: int) -> datetime:
    return datetime.fromtimestamp(id_to_ms(snowflake) / 1000, tz=UTC)


def min_id_at(ms: int) -> int:
    """The smallest id that a generator could issue at Unix millisecond `ms`."""
    return (ms - EPOCH_MS) << _TIME_SHIFT


def parse_id(text: str) -> int | None:
    """A decimal-string id as JSON carries it, or None when it is not a positive 63-bit integer."""
    if not text.isascii() or not text.isdigit() or len(text) > 19 or text[0] == "0":
        return None  # one spelling per id: no signs, no leading zeros
    value = int(text)
    return value if 0 < value < (1 << 63) else None
