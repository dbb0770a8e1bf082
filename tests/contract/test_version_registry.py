"""Contract of the VersionRegistry port (which version of each group serves reads, which one a
replay builds), run against every adapter: memory and Redis. The Redis registry's keys are
global, so its suite runs in a Valkey database of its own, emptied around each test.

Also the registry's one consumer on the write side, the sink: while a version is being built,
each batch goes to every target version, read when the batch is written."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from infra.settings import Settings
from projections.feeds.logic import FeedFacts, feed_writes
from projections.feeds.memory import MemoryFeeds
from projections.groups import Group
from projections.versions.keys import ACTIVE_VERSIONS, BUILDING_VERSIONS, VERSION_SEQUENCE
from projections.versions.memory import MemoryVersions
from projections.versions.ports import VersionRegistry
from projections.versions.redis import RedisVersions
from projections.writes import Write
from schemas import events as ev
from streams.sink import ProjectionSink
from tests.contract.adapters import STACK

REGISTRY_DB = 12  # a database no other test uses (see tests/integration: 3, 4, 6-9, 15)
INITIAL = 1  # the version a group serves before any rebuild


@pytest.fixture(params=["memory", pytest.param("redis", marks=STACK)])
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[VersionRegistry]:
    if request.param == "memory":
        yield MemoryVersions()
        return
    request.getfixturevalue("stack")
    settings: Settings = request.getfixturevalue("settings")
    redis = Redis.from_url(settings.with_(redis_db=REGISTRY_DB).redis)
    pointers = (ACTIVE_VERSIONS, BUILDING_VERSIONS, VERSION_SEQUENCE)
    try:
        await redis.delete(*pointers)
        yield RedisVersions(redis)
    finally:
        await redis.delete(*pointers)
        await redis.aclose()


async def state(registry: VersionRegistry, group: Group) -> tuple[int, list[int]]:
    return await registry.active(group), await registry.targets(group)


async def test_every_group_starts_at_the_initial_version(registry: VersionRegistry) -> None:
    for group in Group:
        assert await state(registry, group) == (INITIAL, [INITIAL])


async def test_a_build_is_a_second_target_until_it_finishes(registry: VersionRegistry) -> None:
    version = await registry.begin_build(Group.FEEDS)
    assert version > INITIAL
    assert await state(registry, Group.FEEDS) == (INITIAL, [INITIAL, version])
    for group in set(Group) - {Group.FEEDS}:  # groups are independent
        assert await state(registry, group) == (INITIAL, [INITIAL])


async def test_a_swap_activates_the_build_and_retires_the_old(registry: VersionRegistry) -> None:
    version = await registry.begin_build(Group.GRAPH)
    assert await registry.finish_build(Group.GRAPH, version, swap=True) == INITIAL
    assert await state(registry, Group.GRAPH) == (version, [version])
    newer = await registry.begin_build(Group.GRAPH)
    assert newer > version
    assert await state(registry, Group.GRAPH) == (version, [version, newer])
    assert await registry.finish_build(Group.GRAPH, newer, swap=True) == version
    assert await state(registry, Group.GRAPH) == (newer, [newer])
    assert await state(registry, Group.PHOTOS) == (INITIAL, [INITIAL])


async def test_an_abandoned_build_is_retired_itself(registry: VersionRegistry) -> None:
    version = await registry.begin_build(Group.SEARCH)
    assert await registry.finish_build(Group.SEARCH, version, swap=False) == version  # to drop
    assert await state(registry, Group.SEARCH) == (INITIAL, [INITIAL])


async def test_a_version_number_is_never_handed_out_twice(registry: VersionRegistry) -> None:
    """A dropped build's number is not reused: a live agent slow to see the change cannot write
    into a newer build under an old number's keys."""
    seen: list[int] = []
    for swap in (False, False, True, False, True, True):
        version = await registry.begin_build(Group.ENGAGEMENT)
        assert version not in seen
        assert version > await registry.active(Group.ENGAGEMENT)
        seen.append(version)
        await registry.finish_build(Group.ENGAGEMENT, version, swap=swap)
    assert seen == sorted(seen)
    assert await state(registry, Group.ENGAGEMENT) == (seen[-1], [seen[-1]])


def published(post: int, second: int) -> ev.PostPublished:
    return ev.PostPublished(
        event_id=4 * 10**15 + post, occurred_at=datetime(2026, 3, 1, 0, 0, second, tzinfo=UTC),
        actor_id=7, post_id=post, photo_id=post, caption="", tags=(),
        variants=ev.Variants(thumbnail="t", feed="f", full="x"), width=1, height=1, blurhash="b",
    )  # fmt: skip


async def test_the_sink_writes_every_target_version(registry: VersionRegistry) -> None:
    stores: dict[int, MemoryFeeds] = {}

    def writer_for(version: int) -> MemoryFeeds:
        return stores.setdefault(version, MemoryFeeds())

    async def plan(events: Sequence[ev.Event]) -> list[Write]:
        return feed_writes(events, FeedFacts())

    sink = ProjectionSink(Group.FEEDS, registry, writer_for, plan)

    async def posts_of(version: int) -> list[int]:
        return [post for post, _ in await writer_for(version).timeline_page(7, 10, None)]

    await sink.apply([published(1, 1)])
    building = await registry.begin_build(Group.FEEDS)
    await sink.apply([published(2, 2)])  # live agents write the build too
    await registry.finish_build(Group.FEEDS, building, swap=True)
    await sink.apply([published(3, 3)])  # and only the active version once it swapped
    assert await posts_of(INITIAL) == [2, 1]
    assert await posts_of(building) == [3, 2]  # a replay brings the rest (post 1)
