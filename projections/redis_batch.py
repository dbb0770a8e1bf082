"""Arguments of a batch script call, in order; split by hash slot when running on a cluster."""

from __future__ import annotations

from redis.crc import key_slot


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
