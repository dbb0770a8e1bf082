"""The batched likes function (engagement.lua set_likes) on a real Valkey: a batch of likes and
unlikes, however redelivered or reordered, leaves every key exactly as applying its events one at
a time does (liked hashes, counts, notification groups with their kept actors, times and ids,
inboxes)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from projections.engagement.keys import EngagementKeys
from projections.engagement.logic import MAX_BUNDLE_ACTORS
from projections.engagement.redis import RedisEngagement
from projections.groups import writes_for
from projections.versions.redis_admin import RedisVersionAdmin
from schemas import events as ev

pytestmark = pytest.mark.stack
_versions = itertools.count(90_000)
_ids = itertools.count(5 * 10**15)
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHOR = 11
POSTS = (7_000, 7_001, 7_002)


def like(kind: type[ev.PostLiked | ev.PostUnliked], liker: int, post: int, ms: int) -> ev.Event:
    return kind(event_id=next(_ids), occurred_at=BASE + timedelta(milliseconds=ms),
                actor_id=liker, post_id=post, author_id=AUTHOR)  # fmt: skip


async def same(redis: Redis, batched: RedisEngagement, single: RedisEngagement) -> None:
    admin = RedisVersionAdmin(redis, lambda v: EngagementKeys(v).prefix)
    count, sample = await admin.diff(batched.version, single.version)
    for version in (batched.version, single.version):
        await admin.drop(version)
    assert count == 0, sample


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    actions=st.lists(
        st.tuples(st.booleans(), st.sampled_from([1, 2, 3, 4, 5, AUTHOR]), st.sampled_from(POSTS),
                  st.integers(0, 8)),
        max_size=40,
    ),
    before=st.integers(0, 40),
    deleted=st.sets(st.sampled_from(POSTS), max_size=1),
    seed=st.integers(0, 2**32),
)  # fmt: skip
async def test_a_batch_leaves_what_its_events_one_by_one_leave(
    redis: Redis,
    actions: list[tuple[bool, int, int, int]],
    before: int,
    deleted: set[int],
    seed: int,
) -> None:
    """At most MAX_BUNDLE_ACTORS likers per post: no actor is evicted from a group (eviction
    followed by a retraction is where a batch keeps more of a group than single events can)."""
    events = [like(ev.PostLiked if yes else ev.PostUnliked, liker, post, ms * 500)
              for yes, liker, post, ms in actions]  # fmt: skip
    rng = random.Random(seed)
    events += rng.sample(events, len(events) // 3)  # redelivered, out of order
    gone = [ev.PostDeleted(event_id=next(_ids), occurred_at=BASE, actor_id=AUTHOR, post_id=p)
            for p in deleted]  # fmt: skip
    first, rest = events[:before], events[before:]
    batched, single = (RedisEngagement(redis, next(_versions)) for _ in range(2))
    for target in (batched, single):
        await target.apply(writes_for("engagement", [*first, *gone]))  # state to start from
    await batched.apply(writes_for("engagement", rest))
    for event in rest:
        await single.apply(writes_for("engagement", [event]))
    await same(redis, batched, single)


async def test_a_hot_post_in_one_batch_keeps_the_same_newest_actors(redis: Redis) -> None:
    likers = range(100, 100 + 4 * MAX_BUNDLE_ACTORS)
    events = [like(ev.PostLiked, u, POSTS[0], (u * 37) % 23) for u in likers]  # ties in time
    batched, single = (RedisEngagement(redis, next(_versions)) for _ in range(2))
    await batched.apply(writes_for("engagement", events))
    for event in events:
        await single.apply(writes_for("engagement", [event]))
    [note] = (await batched.notifications(AUTHOR, 10, None)).items
    assert (note.actor_count, len(note.actors)) == (len(likers), 3)
    assert (await batched.stats([POSTS[0]], None))[POSTS[0]].likes == note.actor_count
    await same(redis, batched, single)


async def test_the_newest_liker_of_a_batch_names_the_notification(redis: Redis) -> None:
    early = [like(ev.PostLiked, u, POSTS[1], ms) for u, ms in ((21, 300), (22, 900), (23, 100))]
    late = [like(ev.PostLiked, u, POSTS[1], ms) for u, ms in ((24, 700), (25, 1200), (26, 800))]
    batched, single = (RedisEngagement(redis, next(_versions)) for _ in range(2))
    for events in (early, late):  # a new group, then an existing one
        await batched.apply(writes_for("engagement", events))
        for event in events:
            await single.apply(writes_for("engagement", [event]))
        [note] = (await batched.notifications(AUTHOR, 10, None)).items
        newest = max(events, key=lambda e: e.occurred_at)
        assert (note.newest_id, note.actors[0]) == (newest.event_id, newest.actor_id)
    await same(redis, batched, single)


async def test_the_newest_actor_leaving_and_rejoining_earlier_in_one_batch(redis: Redis) -> None:
    """The newest liker unlikes and likes again, at an earlier time, within one batch: the bundle's
    time and id become its rejoin's, as applying the events one by one makes them (found by the
    property above: the batch kept the time of the like it had left)."""
    before = [like(ev.PostLiked, 1, POSTS[0], 500)]
    again = [like(ev.PostUnliked, 1, POSTS[0], 0), like(ev.PostLiked, 1, POSTS[0], 0)]
    batched, single = (RedisEngagement(redis, next(_versions)) for _ in range(2))
    for target in (batched, single):
        await target.apply(writes_for("engagement", before))
    await batched.apply(writes_for("engagement", [*again, again[0]]))  # and a redelivery
    for event in [*again, again[0]]:
        await single.apply(writes_for("engagement", [event]))
    [note] = (await batched.notifications(AUTHOR, 10, None)).items
    assert (note.newest_id, note.at_ms) == (again[1].event_id, int(BASE.timestamp() * 1000))
    await same(redis, batched, single)
