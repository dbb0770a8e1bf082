"""Blue/green rebuild of one projection group.

1. announce a fresh version as "building" (live agents start writing it too);
2. read every topic the group consumes from offset 0 to the high watermark seen at start, through
   the same HANDLERS, into the new version;
3. compare it with the live version; 4. swap the active pointer when they agree (or when forced);
5. drop the retired version.
Live reads keep being served from the active version throughout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from infra.topics import CATALOGUE
from projections.handlers import group_events
from projections.ports import ProjectionWriter, VersionRegistry
from projections.writes import Write
from replay.reader import LogReader, Record
from schemas.codec import Codec, DecodeError
from schemas.events import Event

VERIFY_ATTEMPTS = 3  # live agents may lag a moment behind; differences must persist to count
VERIFY_PAUSE_S = 1.0


class VersionAdmin(Protocol):
    """Compares and drops whole versions of one projection group."""

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]: ...

    async def drop(self, version: int) -> int: ...

    async def activate(self, version: int) -> None:
        """Called after `version` became the active one (e.g. an Elasticsearch alias swap)."""


@dataclass(frozen=True)
class ReplayResult:
    group: str
    version: int
    live_version: int
    events: int
    undecodable: int
    writes: int
    seconds: float
    differences: int
    sample: list[str]
    swapped: bool
    dropped_version: int | None

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def topics_for(group: str) -> list[str]:
    wanted = group_events()[group]
    return [t.name for t in CATALOGUE if wanted & set(t.events)]


async def rebuild(
    group: str,
    reader: LogReader,
    codec: Codec,
    versions: VersionRegistry,
    writer_for: Callable[[int], ProjectionWriter],
    admin: VersionAdmin,
    plan: Callable[[Sequence[Event]], Awaitable[list[Write]]],
    *,
    swap: bool = True,
    force: bool = False,
    keep_old: bool = False,
    on_progress: Callable[[int, int | None], None] = lambda done, total: None,
    open_events: Callable[[Sequence[Event]], Awaitable[list[Event]]] | None = None,
) -> ReplayResult:
    """`open_events` is the live agents' decoded-batch step (sealed fields opened, erased users
    dropped): a rebuild must see exactly what they saw."""
    live = await versions.active(group)
    version = await versions.begin_build(group)
    started = time.perf_counter()
    events = undecodable = writes = 0
    try:
        writer = writer_for(version)
        async for batch in _prefetched(reader.batches()):
            decoded = []
            for record in batch:
                try:
                    decoded.append(codec.decode(record.value))
                except DecodeError:
                    undecodable += 1  # the live agent dead-lettered it too
            if open_events is not None:
                decoded = await open_events(decoded)
            planned = await plan(decoded)
            await writer.apply(planned)
            events += len(batch)
            writes += len(planned)
            on_progress(events, sum(reader.stop_offsets.values()) or None)
    except BaseException:
        await versions.finish_build(group, version, swap=False)
        await admin.drop(version)
        raise
    seconds = time.perf_counter() - started
    count, sample = await _verify(admin, live, version)
    do_swap = swap and (count == 0 or force)
    retired = await versions.finish_build(group, version, swap=do_swap)
    if do_swap:
        await admin.activate(version)
    dropped = None
    if retired is not None and not keep_old:
        await admin.drop(retired)
        dropped = retired
    return ReplayResult(
        group, version, live, events, undecodable, writes, seconds, count, sample, do_swap, dropped
    )


async def _verify(admin: VersionAdmin, live: int, version: int) -> tuple[int, list[str]]:
    count, sample = await admin.diff(live, version)
    for _ in range(VERIFY_ATTEMPTS - 1):
        if count == 0:
            break
        await asyncio.sleep(VERIFY_PAUSE_S)
        count, sample = await admin.diff(live, version)
    return count, sample


async def _prefetched(batches: Iterator[list[Record]]) -> AsyncIterator[list[Record]]:
    """Read the next batch in a thread while the current one is written."""
    nxt = asyncio.create_task(asyncio.to_thread(_next_or_none, batches))
    while (batch := await nxt) is not None:
        nxt = asyncio.create_task(asyncio.to_thread(_next_or_none, batches))
        yield batch


def _next_or_none(batches: Iterator[list[Record]]) -> list[Record] | None:
    return next(batches, None)
