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
import contextlib
import functools
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from infra.topics import CATALOGUE
from projections.groups import Group, group_events
from projections.ports import ProjectionWriter
from projections.versions.ports import VersionAdmin, VersionRegistry
from projections.writes import Write
from replay.reader import LogReader, Record
from schemas.codec import Codec, DecodeError
from schemas.events import Event

VERIFY_ATTEMPTS = 3  # live agents may lag a moment behind; differences must persist to count
VERIFY_PAUSE_S = 1.0
DECODE_SLICE = 250  # records decoded between turns of the event loop (~2 ms of CPU)


@dataclass(frozen=True)
class ReplayResult:
    group: Group
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


def topics_for(group: Group) -> list[str]:
    wanted = group_events()[group]
    return [t.name for t in CATALOGUE if wanted & set(t.events)]


Send = Callable[[], Coroutine[Any, Any, None]]  # a batch's writes, ready to go to the store


@runtime_checkable
class PreparingWriter(Protocol):
    """A writer that can build a batch's store calls before sending them (CPU only), so a
    rebuild builds batch n+1's while the store applies batch n's."""

    def prepare(self, writes: Sequence[Write]) -> Send: ...


@dataclass
class _Counts:
    events: int = 0
    undecodable: int = 0
    writes: int = 0


async def rebuild(
    group: Group,
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
    dropped): a rebuild must see exactly what they saw. `open_events` and `plan` may read the
    store but never the version being built: they run while earlier batches are written."""
    live = await versions.active(group)
    version = await versions.begin_build(group)
    started = time.perf_counter()
    counts = _Counts()
    try:
        steps = _Steps(codec, writer_for(version), plan, open_events)
        async with contextlib.aclosing(steps.run(reader, counts)) as batches:
            async for _ in batches:
                on_progress(counts.events, sum(reader.stop_offsets.values()) or None)
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
        group, version, live, counts.events, counts.undecodable, counts.writes, seconds, count,
        sample, do_swap, dropped,
    )  # fmt: skip


@dataclass
class _Steps:
    """One pass over the log: read (a background thread), decode, open, plan, write."""

    codec: Codec
    writer: ProjectionWriter
    plan: Callable[[Sequence[Event]], Awaitable[list[Write]]]
    open_events: Callable[[Sequence[Event]], Awaitable[list[Event]]] | None

    async def run(self, reader: LogReader, counts: _Counts) -> AsyncGenerator[None, None]:
        """Yields after each batch. While the store applies batch n, this process decodes batch
        n+2 and builds batch n+1's calls; then, the store being free (reads never queue behind a
        big write), it reads what batch n+2 needs and starts batch n+1's writes. Batches are
        written one after the other, in log order."""
        planned: list[Write] | None = None  # the previous batch's writes, not sent yet
        writing: asyncio.Task[None] | None = None  # the batch before's, being applied
        try:
            async for batch in _prefetched(reader.batches()):
                decoded = await self._decode(batch, counts)
                send = None if planned is None else self._sender(planned)
                if writing is not None:
                    await writing
                if self.open_events is not None:
                    decoded = await self.open_events(decoded)
                planned = await self.plan(decoded)
                if send is not None:
                    writing = asyncio.create_task(send())
                    await asyncio.sleep(0)  # its first step sends the calls
                counts.events += len(batch)
                counts.writes += len(planned)
                yield
            if writing is not None:
                await writing
            if planned is not None:
                await self._sender(planned)()
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)

    async def _decode(self, batch: Sequence[Record], counts: _Counts) -> list[Event]:
        """Decoded events; the loop gets a turn every DECODE_SLICE records, so the socket of a
        write in flight is flushed (a busy loop holds back what the kernel did not take yet)."""
        decoded, decode = [], self.codec.decode
        for i, record in enumerate(batch, 1):
            try:
                decoded.append(decode(record.value))
            except DecodeError:
                counts.undecodable += 1  # the live agent dead-lettered it too
            if i % DECODE_SLICE == 0:
                await asyncio.sleep(0)
        return decoded

    def _sender(self, writes: list[Write]) -> Send:
        if isinstance(self.writer, PreparingWriter):
            return self.writer.prepare(writes)
        return functools.partial(self.writer.apply, writes)


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
