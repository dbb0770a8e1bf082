"""streams.transport.bundle_gaps with Faust's own offset bookkeeping (`Consumer._add_gap`,
`Consumer.ack` and `Consumer._new_offset`, the offset a commit would write): a bundle's offsets
are committed together once the bundle is acknowledged, never before, and one bundle acked does
not commit the next."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from aiokafka.structs import TopicPartition
from faust.transport.consumer import Consumer
from faust.types.tuples import ConsumerMessage
from intervaltree import IntervalTree

from streams.transport import bundle_gaps

TP = TopicPartition("photofeed.engagement", 0)


def consumer() -> Any:
    """What Consumer's offset bookkeeping reads and writes, on a bare object."""
    return SimpleNamespace(
        _acked=defaultdict(list), _acked_index=defaultdict(set), _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None), _unacked_messages=set(), _n_acked=0,
        _waiting_for_ack=None,
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda _topic: True)),
    )  # fmt: skip


async def deliver(c: Any, read: int | None, first: int, last: int) -> ConsumerMessage:
    """The bundle's gaps marked as the drain loop marks them; its message (the newest offset)."""
    for gap_from, gap_to in bundle_gaps(read, first, last):
        await Consumer._add_gap(c, TP, gap_from, gap_to)
    return ConsumerMessage(TP.topic, TP.partition, last, 0.0, 0, [], None, b"", None, tp=TP)


def commit(c: Any) -> int | None:
    """The partition's committed offset (the next to read) after a commit, as Consumer.commit
    keeps it: the new offset of what is acknowledged, if there is one."""
    offset = Consumer._new_offset(c, TP)
    if offset is not None:
        c._committed_offset[TP] = offset
    return c._committed_offset[TP]  # type: ignore[no-any-return]


def test_the_gaps_of_a_bundle() -> None:
    assert bundle_gaps(None, 0, 0) == []  # a lone first record
    assert bundle_gaps(None, 0, 499) == [(0, 498)]
    assert bundle_gaps(499, 500, 999) == [(500, 998)]  # right after the last one: no skip
    assert bundle_gaps(499, 503, 503) == [(500, 502)]  # offsets the log skipped, as Faust
    assert bundle_gaps(499, 503, 510) == [(500, 502), (503, 509)]


async def test_a_bundle_commits_all_of_its_offsets_once_acked_and_not_before() -> None:
    c = consumer()
    first = await deliver(c, None, 0, 499)
    second = await deliver(c, 499, 500, 999)
    assert commit(c) is None  # nothing acknowledged: nothing may be committed
    Consumer.ack(c, first)
    assert commit(c) == 500  # offsets 0-499: the next to read is 500
    assert commit(c) == 500  # the second bundle's offsets wait for its ack
    Consumer.ack(c, second)
    assert commit(c) == 1000


async def test_a_skip_in_the_log_is_committed_with_the_bundle_after_it() -> None:
    c = consumer()
    Consumer.ack(c, await deliver(c, None, 0, 9))
    assert commit(c) == 10
    pending = await deliver(c, 9, 15, 20)  # 10-14 were compacted away
    assert commit(c) == 10
    Consumer.ack(c, pending)
    assert commit(c) == 21
