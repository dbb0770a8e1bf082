"""The engagement group (pure handlers + Redis adapter) against a real Valkey: likes, comments,
counts and notifications are idempotent, order-safe and retractable."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from projections.backends.redis_batch import text
from projections.engagement.keys import EngagementKeys
from projections.engagement.logic import MAX_BUNDLE_ACTORS, SHOWN_ACTORS, like_bundle
from projections.engagement.redis import RedisEngagement
from projections.groups import writes_for
from projections.ports import Position
from projections.versions.redis_admin import RedisVersionAdmin
from schemas import events as ev

pytestmark = pytest.mark.stack
_versions = itertools.count(70_000)
_ids = itertools.count(3 * 10**15)
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHOR, POST = 11, 5_000


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def liked(actor: int, second: float = 0, post: int = POST, author: int = AUTHOR) -> ev.PostLiked:
    return ev.PostLiked(event_id=next(_ids), occurred_at=at(second), actor_id=actor,
                        post_id=post, author_id=author)  # fmt: skip


def unliked(actor: int, second: float = 0, post: int = POST) -> ev.PostUnliked:
    return ev.PostUnliked(event_id=next(_ids), occurred_at=at(second), actor_id=actor,
                          post_id=post, author_id=AUTHOR)  # fmt: skip


def commented(actor: int, comment: int, second: float = 0, text: str = "nice") -> ev.CommentAdded:
    return ev.CommentAdded(
        event_id=next(_ids), occurred_at=at(second), actor_id=actor, comment_id=comment,
        post_id=POST, author_id=AUTHOR, text=text,
    )  # fmt: skip


def uncommented(actor: int, commenter: int, comment: int) -> ev.CommentDeleted:
    return ev.CommentDeleted(event_id=next(_ids), occurred_at=at(99), actor_id=actor,
                             comment_id=comment, post_id=POST, author_id=AUTHOR,
                             commenter_id=commenter)  # fmt: skip


@pytest.fixture
async def eng(redis: Redis) -> RedisEngagement:
    return RedisEngagement(redis, next(_versions))


async def apply(eng: RedisEngagement, *events: ev.Event) -> None:
    await eng.apply(writes_for("engagement", events))


async def test_the_same_like_three_times_counts_once(eng: RedisEngagement) -> None:
    like = liked(21)
    for _ in range(3):
        await apply(eng, like)
    stats = await eng.stats([POST], 21)
    assert (stats[POST].likes, stats[POST].liked_by_viewer) == (1, True)
    assert (await eng.stats([POST], 22))[POST].liked_by_viewer is False
    notes = (await eng.notifications(AUTHOR, 10, None)).items
    assert [(n.bundle, n.actor_count, n.actors) for n in notes] == [(like_bundle(POST), 1, [21])]


async def test_likes_group_and_unlikes_retract(eng: RedisEngagement) -> None:
    await apply(eng, liked(21, 1), liked(22, 2), liked(23, 3), liked(24, 4), unliked(24, 5))
    [note] = (await eng.notifications(AUTHOR, 10, None)).items
    assert (note.actor_count, note.actors) == (3, [23, 22, 21][:SHOWN_ACTORS])
    assert note.at_ms == int(at(3).timestamp() * 1000)  # the newest remaining actor
    assert (await eng.stats([POST], None))[POST].likes == 3
    await apply(eng, unliked(21, 6), unliked(22, 7), unliked(23, 8))
    assert (await eng.notifications(AUTHOR, 10, None)).items == []
    assert (await eng.stats([POST], 23))[POST].likes == 0


async def test_liking_your_own_post_counts_but_notifies_nobody(eng: RedisEngagement) -> None:
    await apply(eng, liked(AUTHOR))
    assert (await eng.stats([POST], AUTHOR))[POST].likes == 1
    assert (await eng.notifications(AUTHOR, 10, None)).items == []


async def test_an_older_like_applied_after_a_newer_unlike_changes_nothing(
    eng: RedisEngagement,
) -> None:
    like, unlike = liked(21, 1), unliked(21, 2)  # a replay can apply them in this order
    await apply(eng, unlike)
    await apply(eng, like)
    stats = (await eng.stats([POST], 21))[POST]
    assert (stats.likes, stats.liked_by_viewer) == (0, False)
    assert (await eng.notifications(AUTHOR, 10, None)).items == []


async def test_a_hot_post_keeps_constant_state(eng: RedisEngagement, redis: Redis) -> None:
    await apply(eng, *(liked(1000 + i, i / 1000) for i in range(2000)))
    stats = await eng.stats([POST], 1500)
    assert (stats[POST].likes, stats[POST].liked_by_viewer) == (2000, True)
    assert await redis.hlen(eng.keys.post(POST)) == 1  # the count; no likers on the post
    group_key = eng.keys.bundle_prefix(AUTHOR) + like_bundle(POST)
    assert await redis.zcard(group_key) == MAX_BUNDLE_ACTORS
    [note] = (await eng.notifications(AUTHOR, 10, None)).items
    assert (note.actor_count, note.actors) == (2000, [2999, 2998, 2997])


async def test_comments_page_oldest_first_and_deletion_retracts(
    eng: RedisEngagement, redis: Redis
) -> None:
    added = [commented(30 + i, 800 + i, second=i // 2, text=f"c{i}") for i in range(7)]
    await apply(eng, *added)
    await apply(eng, *added[:2])  # redelivered
    seen, after = [], None
    while True:
        page, after = await eng.comments(POST, 3, after)
        seen += [c.text for c in page]
        if after is None:
            break
    assert seen == [f"c{i}" for i in range(7)]
    assert (await eng.stats([POST], None))[POST].comments == 7
    assert len((await eng.notifications(AUTHOR, 100, None)).items) == 7
    await apply(eng, uncommented(30, 30, 800), uncommented(AUTHOR, 31, 801))
    assert await eng.comment(800) is None
    fields = {text(f) for f in await redis.hkeys(eng.keys.comment(800))}
    assert "deleted" in fields
    assert "text" not in fields  # a deleted comment keeps no text
    assert (await eng.stats([POST], None))[POST].comments == 5
    groups = {n.bundle for n in (await eng.notifications(AUTHOR, 100, None)).items}
    assert len(groups) == 5
    assert not any(g.endswith((":800", ":801")) for g in groups)


async def test_follow_notifications_group_by_day(eng: RedisEngagement) -> None:
    day1 = [ev.UserFollowed(event_id=next(_ids), occurred_at=at(i), actor_id=40 + i,
                            followee_id=AUTHOR) for i in range(3)]  # fmt: skip
    later = ev.UserFollowed(event_id=next(_ids), occurred_at=at(86_400), actor_id=50,
                            followee_id=AUTHOR)  # fmt: skip
    unfollow = ev.UserUnfollowed(event_id=next(_ids), occurred_at=at(90_000), actor_id=41,
                                 followee_id=AUTHOR)  # fmt: skip
    self_follow = ev.UserFollowed(event_id=next(_ids), occurred_at=at(5), actor_id=AUTHOR,
                                  followee_id=AUTHOR)  # fmt: skip
    await apply(eng, *day1, later, unfollow, self_follow)
    notes = (await eng.notifications(AUTHOR, 10, None)).items
    assert [(n.actor_count, n.actors) for n in notes] == [(1, [50]), (2, [42, 40])]


async def test_mark_read_and_later_activity_is_unread(eng: RedisEngagement) -> None:
    first = liked(21, 1)
    await apply(eng, first, commented(22, 900, 2))
    notes = (await eng.notifications(AUTHOR, 10, None)).items
    newest = max(n.newest_id for n in notes)
    read = ev.NotificationsRead(event_id=next(_ids), occurred_at=at(3), actor_id=AUTHOR,
                                up_to_id=newest)  # fmt: skip
    await apply(eng, read)
    assert all(n.read for n in (await eng.notifications(AUTHOR, 10, None)).items)
    await apply(eng, liked(23, 4))
    by_group = {n.bundle: n for n in (await eng.notifications(AUTHOR, 10, None)).items}
    assert by_group[like_bundle(POST)].read is False
    assert by_group[like_bundle(POST)].actor_count == 2


async def test_notification_pages_are_stable(eng: RedisEngagement) -> None:
    posts = range(6000, 6007)
    await apply(eng, *(liked(21, second=i // 2, post=p) for i, p in enumerate(posts)))
    seen, after = [], None
    while True:
        page = await eng.notifications(AUTHOR, 3, after)
        seen += [n.bundle for n in page.items]
        if page.next is None:
            break
        after = page.next
    assert sorted(seen) == sorted(like_bundle(p) for p in posts)
    assert len(seen) == len(set(seen))


async def test_deleting_a_post_retracts_its_notifications(eng: RedisEngagement) -> None:
    await apply(eng, liked(21, 1), commented(22, 901, 2), liked(23, 3, post=POST + 1))
    gone = ev.PostDeleted(event_id=next(_ids), occurred_at=at(4), actor_id=AUTHOR, post_id=POST)
    await apply(eng, gone)
    await apply(eng, liked(24, 5))  # a like that raced the deletion
    notes = (await eng.notifications(AUTHOR, 10, None)).items
    assert [n.bundle for n in notes] == [like_bundle(POST + 1)]


async def test_comment_cursor_positions(eng: RedisEngagement) -> None:
    await apply(eng, commented(30, 700, 1), commented(31, 701, 1), commented(32, 702, 2))
    page, after = await eng.comments(POST, 1, None)
    assert [c.comment_id for c in page] == [700]
    assert after == Position(int(at(1).timestamp() * 1000), 700)
    page, _ = await eng.comments(POST, 5, after)
    assert [c.comment_id for c in page] == [701, 702]


def _interleave(streams: list[list[ev.Event]], rng: random.Random) -> list[ev.Event]:
    """One arbitrary merge of the streams, each stream's own order kept (as partitions are)."""
    queues = [list(s) for s in streams if s]
    out: list[ev.Event] = []
    while queues:
        q = rng.choice(queues)
        out.append(q.pop(0))
        queues = [q for q in queues if q]
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    actions=st.lists(
        st.tuples(st.sampled_from(["like", "unlike", "comment", "uncomment", "follow",
                                   "unfollow", "delete", "read"]),
                  st.integers(1, 5), st.integers(0, 2), st.integers(0, 1)),
        max_size=40,
    ),
    seed=st.integers(0, 2**32),
)  # fmt: skip
async def test_any_partition_interleaving_builds_the_same_projection(
    redis: Redis, actions: list[tuple[str, int, int, int]], seed: int
) -> None:
    """Live agents and a replay see each partition in order but partitions interleaved
    differently: the projection must not depend on the interleaving."""
    posts = [POST + i for i in range(3)]
    by_post: dict[int, list[ev.Event]] = {p: [] for p in posts}
    by_user: dict[int, list[ev.Event]] = {}
    comments: dict[int, list[tuple[int, int]]] = {p: [] for p in posts}
    for second, (kind, user, p, day) in enumerate(actions):
        post, t = posts[p], second + day * 86_400
        if kind in {"like", "unlike"}:
            by_post[post].append((liked if kind == "like" else unliked)(user, t, post=post))
        elif kind == "comment":
            cid = next(_ids)
            comments[post].append((cid, user))
            by_post[post].append(
                ev.CommentAdded(
                    event_id=next(_ids),
                    occurred_at=at(t),
                    actor_id=user,
                    comment_id=cid,
                    post_id=post,
                    author_id=AUTHOR,
                    text="hi",
                )
            )
        elif kind == "uncomment" and comments[post]:
            cid, commenter = comments[post][0]
            by_post[post].append(
                ev.CommentDeleted(
                    event_id=next(_ids),
                    occurred_at=at(t),
                    actor_id=commenter,
                    comment_id=cid,
                    post_id=post,
                    author_id=AUTHOR,
                    commenter_id=commenter,
                )
            )
        elif kind in {"follow", "unfollow"}:
            event = ev.UserFollowed if kind == "follow" else ev.UserUnfollowed
            by_user.setdefault(user, []).append(
                event(event_id=next(_ids), occurred_at=at(t), actor_id=user, followee_id=AUTHOR)
            )
        elif kind == "delete":
            by_user.setdefault(AUTHOR, []).append(
                ev.PostDeleted(
                    event_id=next(_ids), occurred_at=at(t), actor_id=AUTHOR, post_id=post
                )
            )
        elif kind == "read":
            by_user.setdefault(AUTHOR, []).append(
                ev.NotificationsRead(
                    event_id=next(_ids), occurred_at=at(t), actor_id=AUTHOR, up_to_id=next(_ids)
                )
            )
    streams = [*by_post.values(), *by_user.values()]  # fmt: skip
    rng = random.Random(seed)
    built = []
    for _ in range(2):
        version = next(_versions)
        order = _interleave(streams, rng)
        cut = rng.randint(0, len(order))
        await apply(RedisEngagement(redis, version), *order[:cut])
        await apply(RedisEngagement(redis, version), *order[cut // 2 :])  # a redelivered tail
        built.append(version)
    admin = RedisVersionAdmin(redis, lambda v: EngagementKeys(v).prefix)
    count, sample = await admin.diff(*built)
    assert count == 0, sample
    for version in built:
        await admin.drop(version)


async def test_a_retracted_newest_actor_gives_the_same_notification_in_any_order(
    redis: Redis,
) -> None:
    x_follows = ev.UserFollowed(event_id=next(_ids), occurred_at=at(1), actor_id=60,
                                followee_id=AUTHOR)  # fmt: skip
    y_follows = ev.UserFollowed(event_id=next(_ids), occurred_at=at(2), actor_id=61,
                                followee_id=AUTHOR)  # fmt: skip
    y_leaves = ev.UserUnfollowed(event_id=next(_ids), occurred_at=at(3), actor_id=61,
                                 followee_id=AUTHOR)  # fmt: skip
    live, replayed = (
        RedisEngagement(redis, next(_versions)),
        RedisEngagement(redis, next(_versions)),
    )
    await apply(live, x_follows, y_follows, y_leaves)
    await apply(replayed, y_follows, y_leaves, x_follows)  # other partition interleaving
    [a] = (await live.notifications(AUTHOR, 10, None)).items
    [b] = (await replayed.notifications(AUTHOR, 10, None)).items
    assert a == b
    assert a.newest_id == x_follows.event_id  # the newest REMAINING actor's event
    admin = RedisVersionAdmin(redis, lambda v: EngagementKeys(v).prefix)
    assert (await admin.diff(live.version, replayed.version))[0] == 0
