"""Shared Redis adapter plumbing: batch script arguments (split by hash slot on a cluster), many
script calls in one round trip, the newest-first page script's arguments and rows, and reply
decoding."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from projections.ports import Position


class ScriptBatch:
    """Script arguments of many entries, in order; split by hash slot on a cluster."""

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


ScriptCall = tuple[AsyncScript, Sequence[str], Sequence[str | int]]  # script, KEYS, ARGV


async def run_scripts(redis: Redis, calls: Sequence[ScriptCall]) -> None:
    """Run every call in order in one pipelined round trip (no SCRIPT EXISTS first, as a
    pipeline's registered scripts would cost: one more round trip per batch). When the server
    lost its script cache (a restart), the scripts are loaded and the whole batch runs again:
    only for idempotent scripts (every projection write is version-guarded)."""
    if not calls:
        return
    for attempt in range(2):
        async with redis.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            try:
                await pipe.execute()
                return
            except NoScriptError:
                if attempt:
                    raise
        for script in {id(c[0]): c[0] for c in calls}.values():
            script.sha = await redis.script_load(script.script)


def text(value: bytes | str) -> str:
    """A Redis reply as text (clients may be configured with or without decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value


def page_args(after: Position | None, limit: int) -> list[str | int]:
    """ARGV of PAGE_BEFORE: the rows strictly after `after` (newest first), at most `limit`."""
    return ["+inf", "", limit] if after is None else [after.at_ms, str(after.id), limit]


def page_rows(flat: list[bytes]) -> list[tuple[int, int]]:
    """PAGE_BEFORE's flat member, score reply as (member id, score) rows."""
    return [(int(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
