"""Contract of the graph group's ports (writer, UserReader, GraphReader), run against every
adapter: Redis always, Cassandra when PHOTOFEED_CASSANDRA_HOSTS names a live cluster (skipped
otherwise). Writes come from the real pure handlers."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.graph.ports import Edge, GraphCounts
from projections.groups import writes_for
from projections.ports import Position
from schemas import events as ev

if TYPE_CHECKING:
    from tests.contract.stores import GraphStore, Stores

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
pytestmark = pytest.mark.stack
_ids = itertools.count(4 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
A, B, C = 101, 102, 103  # users; ids of equal length order equally as numbers and as bytes


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def ms(second: float) -> int:
    return int(at(second).timestamp() * 1000)


def registered(user: int, name: str, second: float = 0) -> ev.UserRegistered:
    return ev.UserRegistered(event_id=next(_ids), occurred_at=at(second), actor_id=user,
                             username=name)  # fmt: skip


def avatar(user: int, url: str | None, second: float = 0) -> ev.UserAvatarChanged:
    return ev.UserAvatarChanged(event_id=next(_ids), occurred_at=at(second), actor_id=user,
                                avatar_url=url)  # fmt: skip


def followed(follower: int, followee: int, second: float = 0) -> ev.UserFollowed:
    return ev.UserFollowed(event_id=next(_ids), occurred_at=at(second), actor_id=follower,
                           followee_id=followee)  # fmt: skip


def unfollowed(follower: int, followee: int, second: float = 0) -> ev.UserUnfollowed:
    return ev.UserUnfollowed(event_id=next(_ids), occurred_at=at(second), actor_id=follower,
                             followee_id=followee)  # fmt: skip


@pytest.fixture
async def graph(stores: Stores) -> GraphStore:
    return await stores.graph()


async def apply(store: GraphStore, *events: ev.Event) -> None:
    await store.apply(writes_for("graph", events))


async def all_edges(store: GraphStore, user: int, side: str, size: int = 2) -> list[Edge]:
    """Every edge of one side, page by page."""
    read = store.followers if side == "followers" else store.following
    seen: list[Edge] = []
    after: Position | None = None
    while True:
        page = await read(user, size, after)
        seen += page.items
        if page.next is None:
            return seen
        assert page.next == Position(page.items[-1].at_ms, page.items[-1].user_id)
        after = page.next


async def snapshot(store: GraphStore, users: list[int]) -> object:
    """Everything the ports answer about `users`."""
    return (
        await store.users(users),
        [await all_edges(store, u, "followers") for u in users],
        [await all_edges(store, u, "following") for u in users],
        await store.counts(users),
        [sorted(await store.follows(u, users)) for u in users],
    )


async def test_users_by_id(graph: GraphStore) -> None:
    await apply(graph, registered(A, "ana", 1), registered(B, "bob", 2))
    await apply(graph, avatar(A, "https://cdn/a.jpg", 3), avatar(B, "https://cdn/b.jpg", 3))
    await apply(graph, avatar(B, None, 4))  # cleared
    found = await graph.users([A, B, 999])
    assert set(found) == {A, B}  # unknown ids are absent
    assert (found[A].username, found[A].avatar_url, found[A].created_ms) == (
        "ana", "https://cdn/a.jpg", ms(1),
    )  # fmt: skip
    assert (found[B].username, found[B].avatar_url) == ("bob", None)
    assert await graph.users([]) == {}


async def test_an_older_profile_write_changes_nothing(graph: GraphStore) -> None:
    old_avatar, new_avatar = avatar(A, "https://cdn/old.jpg", 1), avatar(A, "https://cdn/new.jpg")
    await apply(graph, registered(A, "ana"), new_avatar)
    await apply(graph, old_avatar)  # older, applied later: a replay's interleaving
    assert (await graph.users([A]))[A].avatar_url == "https://cdn/new.jpg"


async def test_a_follow_redelivered_three_times_counts_once(graph: GraphStore) -> None:
    follow = followed(A, B, 5)
    for _ in range(3):
        await apply(graph, follow)
    assert await graph.counts([A, B]) == {A: GraphCounts(0, 1), B: GraphCounts(1, 0)}
    assert (await graph.followers(B, 10, None)).items == [Edge(A, ms(5))]
    assert (await graph.following(A, 10, None)).items == [Edge(B, ms(5))]
    assert await graph.follows(A, [B, C]) == {B}
    assert await graph.follows(B, [A]) == set()


async def test_an_unfollow_redelivered_leaves_no_edge(graph: GraphStore) -> None:
    follow, unfollow = followed(A, B, 1), unfollowed(A, B, 2)
    await apply(graph, follow, unfollow)
    await apply(graph, follow, unfollow, unfollow)
    assert await graph.counts([A, B]) == {A: GraphCounts(0, 0), B: GraphCounts(0, 0)}
    assert (await graph.followers(B, 10, None)).items == []
    assert (await graph.following(A, 10, None)).items == []
    assert await graph.follows(A, [B]) == set()


async def test_an_older_unfollow_after_a_newer_follow_changes_nothing(graph: GraphStore) -> None:
    unfollow, follow = unfollowed(A, B, 1), followed(A, B, 2)  # the unfollow is older
    await apply(graph, follow)
    await apply(graph, unfollow)
    assert (await graph.followers(B, 10, None)).items == [Edge(A, ms(2))]
    assert await graph.follows(A, [B]) == {B}
    follow_c, unfollow_c = followed(A, C, 3), unfollowed(A, C, 4)
    await apply(graph, unfollow_c)
    await apply(graph, follow_c)  # an older follow after a newer unfollow: no edge
    assert await graph.follows(A, [B, C]) == {B}
    assert (await graph.counts([C]))[C] == GraphCounts(0, 0)


async def test_a_refollow_moves_the_edge_to_its_new_time(stores: Stores) -> None:
    events = [followed(A, B, 1), followed(C, B, 2), unfollowed(A, B, 3), followed(A, B, 4)]
    live, reordered = await stores.graph(), await stores.graph()
    await apply(live, *events)
    await apply(reordered, *reversed(events))
    for store in (live, reordered):
        assert (await store.followers(B, 10, None)).items == [Edge(A, ms(4)), Edge(C, ms(2))]
        assert (await store.following(A, 10, None)).items == [Edge(B, ms(4))]
        assert (await store.counts([B]))[B] == GraphCounts(2, 0)


async def test_pages_are_newest_first_without_gaps(graph: GraphStore) -> None:
    followers = list(range(201, 208))
    await apply(graph, *(followed(f, A, second=i // 2) for i, f in enumerate(followers)))
    expected = sorted(((ms(i // 2), f) for i, f in enumerate(followers)), reverse=True)
    first = await graph.followers(A, 3, None)
    assert [(e.at_ms, e.user_id) for e in first.items] == expected[:3]
    assert first.next == Position(*expected[2])
    seen = await all_edges(graph, A, "followers", size=3)
    assert [(e.at_ms, e.user_id) for e in seen] == expected  # equal times: larger id first
    await apply(graph, followed(208, A, second=10))  # a new follower between pages
    rest = await graph.followers(A, 10, first.next)
    assert [(e.at_ms, e.user_id) for e in rest.items] == expected[3:]
    assert rest.next is None


async def test_following_pages_and_counts(graph: GraphStore) -> None:
    followees = list(range(301, 306))
    await apply(graph, *(followed(A, f, second=i % 2) for i, f in enumerate(followees)))
    seen = await all_edges(graph, A, "following", size=2)
    expected = sorted(((ms(i % 2), f) for i, f in enumerate(followees)), reverse=True)
    assert [(e.at_ms, e.user_id) for e in seen] == expected
    counts = await graph.counts([A, 301, 999])
    assert counts == {A: GraphCounts(0, 5), 301: GraphCounts(1, 0), 999: GraphCounts(0, 0)}
    assert await graph.follows(A, [301, 305, 999, 301]) == {301, 305}
    assert await graph.follows(A, []) == set()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_order_builds_the_same_graph(stores: Stores, seed: int) -> None:
    """Follows, unfollows and re-follows applied in two different orders (each with a redelivered
    tail) answer every read the same."""
    rng = random.Random(seed)
    users = [A, B, C, 104]
    events: list[ev.Event] = [registered(u, f"user{u}") for u in users]
    for second in range(30):
        a, b = rng.sample(users, 2)
        events.append((followed if rng.random() < 0.6 else unfollowed)(a, b, second // 3))
    built = []
    for order in (events, rng.sample(events, len(events))):
        store = await stores.graph()
        cut = rng.randint(0, len(order))
        await apply(store, *order[:cut])
        await apply(store, *order[cut // 2 :])
        built.append(await snapshot(store, users))
    assert built[0] == built[1]
