"""A partition's run of records handed to the agents as ONE Faust message (a bundle), and taken
apart again on the agent's side.

Faust delivers every record as its own message: the conductor's hand-over, an event object, a
place in the channel's queue and an acknowledgement each. Measured with py-spy on a worker
draining likes (bench_likes), that per-message path took ~30% of the worker's CPU, more than
decoding the events. So the drain loop (streams/transport.py) hands over up to BUNDLE_MAX
consecutive records of one partition at once: the bundle message carries the offset of the
newest of them, and its value packs every record's (offset, key, value). The agent unpacks it
(streams/batches.py) and acknowledges the bundle once it has processed all of its records; only
then are the offsets inside it marked done (streams/transport.py `ack_bundle`), so a commit
covers them only once the bundle is acknowledged: a crash before that redelivers it whole.

The packing never leaves the process (Faust's `raw` codec passes the bytes through), so it is
`marshal`, the C serializer of Python's own types: ~0.1 us per record each way.

Tried and not kept: decoding the records here, in the drain loop (in slices of 50 with a turn of
the event loop between), so decoding fills the agent's waits for Valkey. Measured with one worker
draining 100k likes, alternating runs in one stack: 21.3-25.9k/s against 19.0-26.4k/s without
(medians 22.3k vs 23.5k); in py-spy the main thread's idle share fell from 36% to 15%, but the
rate did not rise. The likely cost: the agent's queue (up to 256 bundles) then holds ~100k
decoded event objects instead of marshal bytes, which the garbage collector walks again and again
(measured with CPython's default thresholds, before the worker's were raised: photofeed/cli.py).
"""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from typing import Any

from streams.deadletters import Consumed

BUNDLE_MAX = 500  # records per bundle: bounds what one message holds in memory


def pack(records: Sequence[Any]) -> bytes:
    """The value of a bundle of `records` (aiokafka ConsumerRecords of one partition)."""
    return marshal.dumps([(r.offset, r.key, r.value) for r in records])


def unpack(topic: str, partition: int, value: bytes) -> list[Consumed]:
    """The records of a bundle of `topic`/`partition` with value `value`, oldest first."""
    rows = marshal.loads(value)
    return [Consumed(topic, partition, offset, key, val) for offset, key, val in rows]
