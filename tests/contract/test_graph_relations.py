"""Contract of blocks and mutes in the graph group (RelationReader and the writer), run against
every adapter: Redis always, Cassandra when PHOTOFEED_CASSANDRA_HOSTS names a live cluster
(skipped otherwise). Writes come from the real pure handlers, applied in any order and
redelivered; the pure RelationBook (projections/graph/relations.py) is the reference."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

import pytest

from projections.graph.ports import Edge, GraphCounts, RelationReader
from projections.graph.relations import NONE, Relation, RelationBook
from projections.groups import writes_for
from projections.ports import Position, ProjectionWriter
from schemas import events as ev

if TYPE_CHECKING:
    from tests.contract.stores import GraphStore, Stores

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
pytestmark = pytest.mark.stack
_ids = itertools.count(6 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 5, 1, 12, tzinfo=UTC)
A, B, C, D = 301, 302, 303, 304
USERS = (A, B, C, D)


class RelationStore(ProjectionWriter, RelationReader, Protocol):
    """What this suite needs of a graph adapter."""


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def ms(second: float) -> int:
    return int(at(second).timestamp() * 1000)


def event(kind: Any, actor: int, other: int, second: float = 0) -> Any:
    """A block, unblock, mute or unmute; a follow or unfollow (UserFollowed's followee)."""
    blocks, mutes = (ev.UserBlocked, ev.UserUnblocked), (ev.UserMuted, ev.UserUnmuted)
    field = "blocked_id" if kind in blocks else "muted_id" if kind in mutes else "followee_id"
    return kind(event_id=next(_ids), occurred_at=at(second), actor_id=actor, **{field: other})


async def apply(store: GraphStore, *events: ev.Event) -> None:
    await store.apply(writes_for("graph", events))


async def listed(store: RelationStore, kind: str, user: int, size: int = 2) -> list[Edge]:
    """Every row of a user's blocks or mutes, page by page."""
    read = store.blocks if kind == "blocks" else store.mutes
    seen: list[Edge] = []
    after: Position | None = None
    while True:
        page = await read(user, size, after)
        seen += page.items
        if page.next is None:
            return seen
        after = page.next


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_order_ends_as_the_reference_says(stores: Stores, seed: int) -> None:
    rng = random.Random(seed)
    kinds = (ev.UserBlocked, ev.UserUnblocked, ev.UserMuted, ev.UserUnmuted)
    pairs = [rng.sample(USERS, 2) for _ in range(40)]
    events = [event(rng.choice(kinds), a, b, i // 3) for i, (a, b) in enumerate(pairs)]
    book = RelationBook()
    book.apply(writes_for("graph", events))
    for order in (events, rng.sample(events, len(events))):
        store = await stores.graph()
        cut = rng.randint(0, len(order))
        await apply(store, *order[:cut])
        await apply(store, *order[cut // 2 :])  # a redelivered tail
        relations = cast(RelationStore, store)
        for viewer in USERS:
            found = await relations.relations(viewer, list(USERS))
            assert found == {o: book.relation(viewer, o) for o in USERS}, viewer
            for kind in ("blocks", "mutes"):
                rows = await listed(relations, kind, viewer)
                assert [(e.user_id, e.at_ms) for e in rows] == book.listed(kind, viewer)


async def test_a_block_ends_the_follows_both_ways_and_an_unblock_restores_none(
    stores: Stores,
) -> None:
    store = await stores.graph()
    relations = cast(RelationStore, store)
    await apply(store, event(ev.UserFollowed, A, B, 1), event(ev.UserFollowed, B, A, 2),
                event(ev.UserFollowed, C, A, 3))  # fmt: skip
    await apply(store, event(ev.UserBlocked, A, B, 4))
    assert await store.follows(A, [B]) == set()
    assert await store.follows(B, [A]) == set()
    assert await store.counts([A, B]) == {A: GraphCounts(1, 0), B: GraphCounts(0, 0)}
    assert await relations.relations(B, [A, C]) == {A: Relation(blocked_by=True), C: NONE}
    assert await relations.relations(A, [B]) == {B: Relation(blocks=True)}
    await apply(store, event(ev.UserUnblocked, A, B, 5))
    assert await relations.relations(A, [B]) == {B: NONE}
    assert await store.follows(A, [B]) == set()  # nothing comes back by itself
    assert await store.follows(B, [A]) == set()
    await apply(store, event(ev.UserFollowed, B, A, 6))  # a new follow after the unblock
    assert await store.follows(B, [A]) == {A}
    assert (await store.followers(A, 10, None)).items == [Edge(B, ms(6)), Edge(C, ms(3))]


async def test_an_older_follow_delivered_after_a_block_stays_undone(stores: Stores) -> None:
    follow, block = event(ev.UserFollowed, B, A, 1), event(ev.UserBlocked, A, B, 2)
    store = await stores.graph()
    await apply(store, block)
    await apply(store, follow)  # B's partition ran behind A's
    assert await store.follows(B, [A]) == set()
    assert (await store.counts([A]))[A] == GraphCounts(0, 0)


async def test_lists_are_newest_first_and_mutes_leave_follows_alone(stores: Stores) -> None:
    store = await stores.graph()
    relations = cast(RelationStore, store)
    await apply(store, event(ev.UserFollowed, A, C, 1), event(ev.UserMuted, A, C, 2),
                event(ev.UserMuted, A, B, 2), event(ev.UserMuted, A, D, 3),
                event(ev.UserBlocked, A, D, 4))  # fmt: skip
    assert [(e.user_id, e.at_ms) for e in await listed(relations, "mutes", A)] == [
        (D, ms(3)), (C, ms(2)), (B, ms(2)),
    ]  # fmt: skip
    assert [e.user_id for e in await listed(relations, "blocks", A)] == [D]
    assert await store.follows(A, [C]) == {C}  # a mute unfollows nobody
    assert await relations.relations(A, []) == {}
