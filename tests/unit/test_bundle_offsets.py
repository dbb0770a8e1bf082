"""A bundle's offsets in Faust's own offset bookkeeping (`Consumer.ack` and `_new_offset`, the
offset a commit would write), as the worker's consumer keeps it (streams/transport.py
`ack_bundle`, `covered_from`): a bundle's offsets are committed together once it is
acknowledged, never before, whatever order bundles are acknowledged in."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from aiokafka.structs import TopicPartition
from faust.transport.consumer import Consumer
from intervaltree import IntervalTree

from streams.transport import BundleMessage, ack_bundle, bundle_message, covered_from

TP = TopicPartition("photofeed.engagement", 0)


def consumer() -> Any:
    """What Consumer's offset bookkeeping reads and writes, on a bare object."""
    return SimpleNamespace(
        _acked=defaultdict(list), _acked_index=defaultdict(set), _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None), _unacked_messages=set(), _n_acked=0,
        _waiting_for_ack=None,
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda _topic: True)),
    )  # fmt: skip


def bundle(read: int | None, first: int, last: int) -> BundleMessage:
    """The message the drain loop makes of records first..last after read offset `read`."""

    def record(offset: int) -> SimpleNamespace:
        return SimpleNamespace(topic=TP.topic, partition=TP.partition, offset=offset, key=None,
                               value=b"v", timestamp=1_000, timestamp_type=0,
                               headers=[])  # fmt: skip

    records = [record(o) for o in range(first, last + 1)]
    return bundle_message(TP, records, covered_from(read, first), generation=1)


def ack(c: Any, message: BundleMessage) -> None:
    ack_bundle(c, message, Consumer.ack(c, message))  # what the worker's consumer does


def commit(c: Any) -> int | None:
    """The partition's committed offset (the next to read) after a commit, as Consumer.commit
    keeps it: the new offset of what is acknowledged, if there is one."""
    offset = Consumer._new_offset(c, TP)
    if offset is not None:
        c._committed_offset[TP] = offset
    return c._committed_offset[TP]  # type: ignore[no-any-return]


def test_a_bundle_answers_for_the_offsets_the_log_skipped_before_it() -> None:
    assert covered_from(None, 0) == 0  # the first after assignment
    assert covered_from(499, 500) == 500
    assert covered_from(499, 503) == 500  # 500-502 compacted away: done with this bundle
    message = bundle(None, 0, 2)
    assert (message.first, message.offset, message.tp) == (0, 2, TP)


def test_a_bundle_commits_all_of_its_offsets_once_acked_and_not_before() -> None:
    c = consumer()
    first, second = bundle(None, 0, 499), bundle(499, 500, 999)
    assert commit(c) is None  # nothing acknowledged: nothing may be committed
    ack(c, first)
    assert commit(c) == 500  # offsets 0-499: the next to read is 500
    assert commit(c) == 500  # the second bundle's offsets wait for its ack
    ack(c, second)
    assert commit(c) == 1000


def test_a_bundle_acked_out_of_order_does_not_commit_the_one_before_it() -> None:
    c = consumer()
    c._committed_offset[TP] = 1000  # as the assignment left it (Faust reads it then)
    first, second = bundle(999, 1000, 1499), bundle(1499, 1500, 1999)
    ack(c, second)  # e.g. a stale ack from before a rebalance
    assert commit(c) == 1000  # 1000-1499 were never done: the commit stays
    ack(c, first)
    assert commit(c) == 2000


def test_a_skip_in_the_log_is_committed_with_the_bundle_after_it() -> None:
    c = consumer()
    ack(c, bundle(None, 0, 9))
    assert commit(c) == 10
    pending = bundle(9, 15, 20)  # 10-14 were compacted away
    assert commit(c) == 10
    ack(c, pending)
    assert commit(c) == 21


def test_a_bundle_acked_twice_counts_once() -> None:
    c = consumer()
    message = bundle(None, 0, 4)
    ack(c, message)
    ack(c, message)
    assert sorted(c._acked[TP]) == [0, 1, 2, 3, 4]
    assert commit(c) == 5
