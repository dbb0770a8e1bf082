"""Shared Redis adapter plumbing: batch arguments of the Valkey Functions the adapters call (split
by hash slot on a cluster), many function calls in one round trip, the one-zset pages of the read
library (photofeed_pages' page_before / page_after), and reply decoding.

The functions are the `.lua` libraries beside each group (projections/backends/functions.py): the
stack loads them, each process checks them at start-up, and a call names its function. Nothing is
hashed or sent again per call, and there is no script cache to lose: a server without the
library refuses the call (`Function not found`), it is never silently reloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.crc import key_slot

from projections.ports import Position


class CallBatch:
    """Function arguments of many entries, in order; split by hash slot on a cluster."""

    def __init__(self) -> None:
        self.entries: list[tuple[list[str], list[str | int]]] = []

    def add(self, keys: list[str], args: list[str | int]) -> None:
        self.entries.append((keys, args))

    def groups(self, by_slot: bool) -> list[tuple[list[str], list[str | int]]]:
        grouped: dict[int, tuple[list[str], list[str | int]]] = {}
        for keys, args in self.entries:
            slot = key_slot(keys[0].encode()) if by_slot else 0
            bucket = grouped.setdefault(slot, ([], []))
            bucket[0].extend(keys)
            bucket[1].extend(args)
        return list(grouped.values())


FunctionCall = tuple[str, Sequence[str], Sequence[str | int]]  # function name, KEYS, ARGV

# The read library's one-zset pages (FCALL_RO). KEYS[1]: the zset; ARGV: the position's score
# ('+inf' / '-inf' for the first page), its member ('' for the first page), the page size; the
# reply is flat: member, score, member, score...
PAGE_BEFORE = "page_before"  # newest first, strictly after the position
PAGE_AFTER = "page_after"  # oldest first, strictly after the position


async def call_functions(redis: Redis, calls: Sequence[FunctionCall]) -> list[Any]:
    """FCALL every call in order in one pipelined round trip (not a transaction: each function is
    atomic on its own, and every projection write is seq-guarded, so a batch redelivered after a
    failure part-way is harmless). The replies, in order; the first error raises."""
    if not calls:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for function, keys, args in calls:
            pipe.fcall(function, len(keys), *keys, *args)
        return list(await pipe.execute())


def text(value: bytes | str) -> str:
    """A Redis reply as text (clients may be configured with or without decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value


def page_args(after: Position | None, limit: int) -> list[str | int]:
    """ARGV of PAGE_BEFORE: the rows strictly after `after` (newest first), at most `limit`."""
    return ["+inf", "", limit] if after is None else [after.at_ms, str(after.id), limit]


def page_rows(flat: list[bytes]) -> list[tuple[int, int]]:
    """PAGE_BEFORE's flat member, score reply as (member id, score) rows."""
    return [(int(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]


async def page_before(
    redis: Redis, key: str, limit: int, after: Position | None
) -> list[tuple[int, int]]:
    """Up to `limit` (member id, score) rows of a zset, newest first, strictly after `after`."""
    return page_rows(await redis.fcall_ro(PAGE_BEFORE, 1, key, *page_args(after, limit)))
