"""Contract of the graph group's profile fields and keyed avatars, run against every adapter:
Redis always, Cassandra when PHOTOFEED_CASSANDRA_HOSTS names a live cluster (skipped otherwise).
Writes come from the real pure handlers, applied in any order, redelivered."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.graph.ports import UserView
from projections.groups import writes_for
from schemas import events as ev
from schemas.media import AVATAR_SIZES, avatar_key

if TYPE_CHECKING:
    from tests.contract.stores import GraphStore, Stores

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
pytestmark = pytest.mark.stack
_ids = itertools.count(5 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 4, 1, 12, tzinfo=UTC)
A = 201


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def registered() -> ev.UserRegistered:
    return ev.UserRegistered(event_id=next(_ids), occurred_at=at(0), actor_id=A, username="ana")


def profile(display_name: str | None = None, bio: str | None = None) -> ev.ProfileUpdated:
    return ev.ProfileUpdated(event_id=next(_ids), occurred_at=at(1), actor_id=A,
                             display_name=display_name, bio=bio)  # fmt: skip


def avatar(upload: int | None) -> ev.UserAvatarChanged:
    keys = tuple(avatar_key(A, upload, s) for s in AVATAR_SIZES) if upload else ()
    return ev.UserAvatarChanged(event_id=next(_ids), occurred_at=at(2), actor_id=A,
                                avatar_keys=keys)  # fmt: skip


@pytest.fixture
async def graph(stores: Stores) -> GraphStore:
    return await stores.graph()


async def apply(store: GraphStore, *events: ev.Event) -> None:
    await store.apply(writes_for("graph", events))


async def user(store: GraphStore) -> UserView:
    return (await store.users([A]))[A]


async def test_profile_fields_are_set_and_cleared_each_on_its_own(graph: GraphStore) -> None:
    await apply(graph, registered(), profile("Ana Lima", "light chaser\nLisbon"))
    got = await user(graph)
    assert (got.username, got.display_name, got.bio) == ("ana", "Ana Lima", "light chaser\nLisbon")
    await apply(graph, profile(bio=""))  # clears the bio, leaves the name
    got = await user(graph)
    assert (got.display_name, got.bio) == ("Ana Lima", None)
    await apply(graph, profile(display_name=""))
    assert (await user(graph)).display_name is None


async def test_each_profile_field_is_guarded_by_its_own_newest_event(graph: GraphStore) -> None:
    name_old, bio_new, name_new = profile("old"), profile(bio="newer bio"), profile("new")
    await apply(graph, registered(), name_new, bio_new)
    await apply(graph, name_old, name_old)  # older, redelivered, applied later (a replay's order)
    got = await user(graph)
    assert (got.display_name, got.bio) == ("new", "newer bio")


async def test_a_keyed_avatar_is_three_squares_and_its_removal_clears_them(
    graph: GraphStore,
) -> None:
    upload = 4 * 10**15
    await apply(graph, registered(), avatar(upload))
    got = await user(graph)
    assert got.avatar_keys == tuple(avatar_key(A, upload, s) for s in AVATAR_SIZES)
    assert got.avatar_url is None
    await apply(graph, avatar(None))  # its event id is newer than the upload's photo id
    got = await user(graph)
    assert (got.avatar_keys, got.avatar_url) == ((), None)


async def test_the_newer_upload_wins_whatever_order_its_events_come_in(graph: GraphStore) -> None:
    older, newer = 4 * 10**15 + 1, 4 * 10**15 + 2
    newer_done = avatar(newer)
    older_done = avatar(older)  # processed last: its event is the newest, its upload is not
    await apply(graph, registered(), newer_done, older_done, older_done)
    assert (await user(graph)).avatar_keys == tuple(avatar_key(A, newer, s) for s in AVATAR_SIZES)


async def test_a_profile_alone_is_no_user(graph: GraphStore) -> None:
    await apply(graph, profile("ghost", "no registration"), avatar(4 * 10**15))
    assert await graph.users([A]) == {}
