"""What each projection group has applied, per topic partition, in Valkey (read-your-writes).

The worker raises a group's offsets right after a batch's projection writes; the gateway reads
them to decide whether a client's own writes are visible yet. Offsets only grow: a redelivered
or replayed batch, or a second worker writing the same projections, never lowers them, so any
value a reader has seen stays a valid lower bound (the gateway caches them on that ground).

Also here: the position token of the events that settled an upload, which the media agent's log
remembers for GET /photos/{id}/status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from redis.asyncio import Redis

from projections.backends.redis_batch import call_functions
from projections.photos.keys import settled_upload
from projections.versions.keys import applied_offsets

TopicPartition = tuple[str, int]

SETTLED_TTL_S = 24 * 3600  # >> any client's wait for its upload's processing


def field(tp: TopicPartition) -> str:
    return f"{tp[0]}:{tp[1]}"


class RedisAppliedOffsets:
    """Per projection group, the next offset applied on each topic partition (raised by
    photofeed_versioned's raise_offsets: projections/backends/versioned.lua)."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def record(
        self, groups: Iterable[str], next_offsets: Mapping[TopicPartition, int]
    ) -> None:
        """Every group in `groups` has applied everything before `next_offsets`: one pipelined
        round trip, one function call per group."""
        args: list[str | int] = []
        for tp, offset in next_offsets.items():
            args += [field(tp), offset]
        if not args:
            return
        await call_functions(
            self._r, [("raise_offsets", [applied_offsets(group)], args) for group in groups]
        )

    async def applied(
        self, wanted: Mapping[str, Sequence[TopicPartition]]
    ) -> dict[str, dict[TopicPartition, int]]:
        """group -> partition -> next applied offset (0: nothing recorded yet), for the wanted
        partitions of each group: one pipelined round trip."""
        groups = [g for g, tps in wanted.items() if tps]
        if not groups:
            return {}
        async with self._r.pipeline(transaction=False) as pipe:
            for g in groups:
                pipe.hmget(applied_offsets(g), [field(tp) for tp in wanted[g]])
            answers = await pipe.execute()
        return {
            g: {tp: int(v or 0) for tp, v in zip(wanted[g], values, strict=True)}
            for g, values in zip(groups, answers, strict=True)
        }


class RedisSettledUploads:
    """The position token of the events that settled an upload, per photo, for a day."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis

    async def remember(self, photo_id: int, token: str) -> None:
        await self._r.set(settled_upload(photo_id), token, ex=SETTLED_TTL_S)

    async def token(self, photo_id: int) -> str | None:
        value = await self._r.get(settled_upload(photo_id))
        return None if value is None else value.decode() if isinstance(value, bytes) else str(value)
