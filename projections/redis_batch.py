"""Shared Redis adapter plumbing: batch script arguments (split by hash slot on a cluster), the
newest-first page script's arguments and rows, and reply decoding."""

from __future__ import annotations

from redis.crc import key_slot

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


def text(value: bytes | str) -> str:
    """A Redis reply as text (clients may be configured with or without decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value


def page_args(after: Position | None, limit: int) -> list[str | int]:
    """ARGV of PAGE_BEFORE: the rows strictly after `after` (newest first), at most `limit`."""
    return ["+inf", "", limit] if after is None else [after.at_ms, str(after.id), limit]


def page_rows(flat: list[bytes]) -> list[tuple[int, int]]:
    """PAGE_BEFORE's flat member, score reply as (member id, score) rows."""
    return [(int(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
