"""Blocks and mutes between two users: the one rule every path applies, and the seq-guarded
state it is decided from.

A block (either way) separates two accounts entirely: each is hidden from the other everywhere
(profile, lists, posts, feed, comments, search, tag pages, notifications), neither may follow,
request to follow, like, comment on or mention the other, and the block itself removed the
follows between them (projections/graph/handlers.py). A mute is one-sided and quiet: the muted
account's posts leave the muter's home feed and its activity the muter's notifications; its
profile, posts and search hits stay visible.

The decision is `blocked` and `hides_activity` on a `Relation` (the three facts of one viewer
towards one other user). The gateway's Python paths load relations through the graph port
(gateway/relations.py); the one-call pages apply the Lua twin, `relations` in
projections/pages/pages.lua, from the viewer's three zsets (blocks, blocked_by, mutes: one
viewer's, small, read per distinct author of a page). tests/unit/test_relations.py holds the
truth table; tests/e2e/test_blocks_api.py holds every read route to it.

State: per (actor, other) and kind, the newest of the actor's block/unblock (or mute/unmute)
events wins, compared by event id (`seq`), so any order of delivery, redelivery or replay ends
the same (`RelationBook`, the reference the adapters are tested against).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from projections.writes import SetBlock, SetMute


@dataclass(frozen=True, slots=True)
class Relation:
    """What one viewer has to do with one other user."""

    blocks: bool = False  # the viewer blocked the other
    blocked_by: bool = False  # the other blocked the viewer
    mutes: bool = False  # the viewer muted the other


NONE = Relation()


def blocked(r: Relation) -> bool:
    """A block either way: the two are hidden from each other and may not interact."""
    return r.blocks or r.blocked_by


def hides_activity(r: Relation) -> bool:
    """Whether the other's posts stay out of the viewer's home feed and their activity (likes,
    comments, follows, mentions) out of the viewer's notifications: a block or a mute."""
    return blocked(r) or r.mutes


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """One pair's register: the seq of its newest event, whether it is on, and since when."""

    seq: int
    on: bool
    at_ms: int


@dataclass
class RelationBook:
    """Blocks and mutes in memory, seq-guarded per (actor, other): the pure reference of what
    the adapters keep (tests apply the same writes to both in any order)."""

    blocks: dict[tuple[int, int], Mark] = field(default_factory=dict)  # (blocker, blocked)
    mutes: dict[tuple[int, int], Mark] = field(default_factory=dict)  # (muter, muted)

    def apply(self, writes: Iterable[object]) -> None:
        """Apply the SetBlock and SetMute writes among `writes` (others are ignored)."""
        for w in writes:
            if isinstance(w, SetBlock):
                _newer(self.blocks, (w.blocker_id, w.blocked_id), Mark(w.seq, w.active, w.at_ms))
            elif isinstance(w, SetMute):
                _newer(self.mutes, (w.muter_id, w.muted_id), Mark(w.seq, w.active, w.at_ms))

    def relation(self, viewer: int, other: int) -> Relation:
        return Relation(
            blocks=_on(self.blocks, (viewer, other)),
            blocked_by=_on(self.blocks, (other, viewer)),
            mutes=_on(self.mutes, (viewer, other)),
        )

    def listed(self, kind: str, actor: int) -> list[tuple[int, int]]:
        """(other, since ms) of the actor's current blocks or mutes, newest first (as the
        paged lists show them: by time, then by id)."""
        table = self.blocks if kind == "blocks" else self.mutes
        rows = [(m.at_ms, other) for (a, other), m in table.items() if a == actor and m.on]
        return [(other, ms) for ms, other in sorted(rows, reverse=True)]


def _newer(table: dict[tuple[int, int], Mark], pair: tuple[int, int], mark: Mark) -> None:
    current = table.get(pair)
    if current is None or current.seq < mark.seq:
        table[pair] = mark


def _on(table: dict[tuple[int, int], Mark], pair: tuple[int, int]) -> bool:
    mark = table.get(pair)
    return mark is not None and mark.on
