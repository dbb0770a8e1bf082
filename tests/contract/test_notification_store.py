"""Contract of the NotificationReader port and the engagement writer's notifications, run against
every adapter: Redis always, Cassandra when PHOTOFEED_CASSANDRA_HOSTS names a live cluster
(skipped otherwise). Writes come from the real pure handlers."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.engagement.logic import SHOWN_ACTORS, comment_bundle, follow_bundle, like_bundle
from projections.engagement.ports import Notice
from projections.groups import writes_for
from schemas import events as ev

if TYPE_CHECKING:
    from tests.contract.stores import EngagementStore, Stores

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
pytestmark = pytest.mark.stack
_ids = itertools.count(9 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHOR, POST = 11, 5_000


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def ms(second: float) -> int:
    return int(at(second).timestamp() * 1000)


def liked(actor: int, second: float = 0, post: int = POST) -> ev.PostLiked:
    return ev.PostLiked(event_id=next(_ids), occurred_at=at(second), actor_id=actor,
                        post_id=post, author_id=AUTHOR)  # fmt: skip


def unliked(actor: int, second: float = 0, post: int = POST) -> ev.PostUnliked:
    return ev.PostUnliked(event_id=next(_ids), occurred_at=at(second), actor_id=actor,
                          post_id=post, author_id=AUTHOR)  # fmt: skip


def commented(actor: int, comment: int, second: float = 0, post: int = POST) -> ev.CommentAdded:
    return ev.CommentAdded(
        event_id=next(_ids), occurred_at=at(second), actor_id=actor, comment_id=comment,
        post_id=post, author_id=AUTHOR, text="nice",
    )  # fmt: skip


def uncommented(commenter: int, comment: int, second: float = 99,
                post: int = POST) -> ev.CommentDeleted:  # fmt: skip
    return ev.CommentDeleted(event_id=next(_ids), occurred_at=at(second), actor_id=commenter,
                             comment_id=comment, post_id=post, author_id=AUTHOR,
                             commenter_id=commenter)  # fmt: skip


def followed(follower: int, second: float = 0, followee: int = AUTHOR) -> ev.UserFollowed:
    return ev.UserFollowed(event_id=next(_ids), occurred_at=at(second), actor_id=follower,
                           followee_id=followee)  # fmt: skip


def unfollowed(follower: int, second: float = 0) -> ev.UserUnfollowed:
    return ev.UserUnfollowed(event_id=next(_ids), occurred_at=at(second), actor_id=follower,
                             followee_id=AUTHOR)  # fmt: skip


def read_up_to(up_to: int, second: float = 0) -> ev.NotificationsRead:
    return ev.NotificationsRead(event_id=next(_ids), occurred_at=at(second), actor_id=AUTHOR,
                                up_to_id=up_to)  # fmt: skip


def post_deleted(post: int = POST, second: float = 50) -> ev.PostDeleted:
    return ev.PostDeleted(event_id=next(_ids), occurred_at=at(second), actor_id=AUTHOR,
                          post_id=post)  # fmt: skip


@pytest.fixture
async def eng(stores: Stores) -> EngagementStore:
    return await stores.engagement()


async def apply(store: EngagementStore, *events: ev.Event) -> None:
    await store.apply(writes_for("engagement", events))


async def every_notice(store: EngagementStore, user: int = AUTHOR, size: int = 2) -> list[Notice]:
    seen: list[Notice] = []
    after: tuple[int, str] | None = None
    while True:
        page = await store.notifications(user, size, after)
        seen += page.items
        if page.next is None:
            return seen
        assert page.next == (page.items[-1].at_ms, page.items[-1].bundle)
        after = page.next


async def test_likes_group_and_unlikes_retract(eng: EngagementStore) -> None:
    likes = [liked(21, 1), liked(22, 2), liked(23, 3), liked(24, 4)]
    await apply(eng, *likes, unliked(24, 5))
    [note] = (await eng.notifications(AUTHOR, 10, None)).items
    assert note == Notice(like_bundle(POST), likes[2].event_id, ms(3), [23, 22, 21][:SHOWN_ACTORS],
                          3, False)  # fmt: skip
    await apply(eng, unliked(21, 6), unliked(22, 7), unliked(23, 8))
    assert await every_notice(eng) == []


async def test_a_like_redelivered_three_times_notifies_once(eng: EngagementStore) -> None:
    like = liked(21, 1)
    for _ in range(3):
        await apply(eng, like)
    [note] = (await eng.notifications(AUTHOR, 10, None)).items
    assert (note.actor_count, note.actors, note.newest_id) == (1, [21], like.event_id)


async def test_a_repeated_like_keeps_the_first_one(eng: EngagementStore) -> None:
    first, again = liked(21, 1), liked(21, 5)  # two events: the gateway appends every like
    await apply(eng, first, again)
    [note] = (await eng.notifications(AUTHOR, 10, None)).items
    assert (note.actor_count, note.newest_id, note.at_ms) == (1, first.event_id, ms(1))
    await apply(eng, unliked(21, 6), liked(21, 7))  # a like after an unlike is news again
    [note] = (await eng.notifications(AUTHOR, 10, None)).items
    assert (note.actor_count, note.at_ms) == (1, ms(7))


async def test_acting_on_your_own_post_notifies_nobody(eng: EngagementStore) -> None:
    await apply(eng, liked(AUTHOR, 1), commented(AUTHOR, 900, 2), followed(AUTHOR, 3))
    assert await every_notice(eng) == []


async def test_an_older_like_applied_after_a_newer_unlike_changes_nothing(
    eng: EngagementStore,
) -> None:
    like, unlike = liked(21, 1), unliked(21, 2)
    await apply(eng, unlike)
    await apply(eng, like)
    assert await every_notice(eng) == []


async def test_a_hot_post_counts_every_liker(eng: EngagementStore) -> None:
    await apply(eng, *(liked(1000 + i, i / 100) for i in range(300)))
    [note] = (await eng.notifications(AUTHOR, 10, None)).items
    assert (note.actor_count, note.actors) == (300, [1299, 1298, 1297])


async def test_every_comment_is_its_own_notification(eng: EngagementStore) -> None:
    added = [commented(30 + i, 800 + i, second=i) for i in range(4)]
    await apply(eng, *added)
    notes = await every_notice(eng)
    assert [n.bundle for n in notes] == [comment_bundle(POST, 800 + i) for i in (3, 2, 1, 0)]
    assert [(n.actors, n.actor_count) for n in notes] == [([30 + i], 1) for i in (3, 2, 1, 0)]
    assert notes[0].newest_id == added[3].event_id
    await apply(eng, uncommented(30, 800), uncommented(32, 802))
    groups = [n.bundle for n in await every_notice(eng)]
    assert groups == [comment_bundle(POST, 803), comment_bundle(POST, 801)]


async def test_follows_group_by_day_and_unfollows_retract(eng: EngagementStore) -> None:
    day1 = [followed(40 + i, i) for i in range(3)]
    later = followed(50, 86_400)
    await apply(eng, *day1, later, unfollowed(41, 90_000), followed(AUTHOR, 5))
    notes = await every_notice(eng)
    assert [(n.bundle, n.actor_count, n.actors) for n in notes] == [
        (follow_bundle(ms(86_400)), 1, [50]), (follow_bundle(ms(0)), 2, [42, 40]),
    ]  # fmt: skip
    assert notes[1].newest_id == day1[2].event_id


async def test_a_refollow_the_next_day_is_a_new_notification(eng: EngagementStore) -> None:
    await apply(eng, followed(40, 1), followed(40, 2))  # a repeated follow: the first one counts
    [note] = await every_notice(eng)
    assert (note.bundle, note.at_ms) == (follow_bundle(ms(1)), ms(1))
    await apply(eng, unfollowed(40, 3), followed(40, 86_400))
    [note] = await every_notice(eng)
    assert (note.bundle, note.actors) == (follow_bundle(ms(86_400)), [40])


async def test_read_marks_and_later_activity_is_unread(eng: EngagementStore) -> None:
    await apply(eng, liked(21, 1), commented(22, 900, 2))
    newest = max(n.newest_id for n in await every_notice(eng))
    older_mark = read_up_to(newest - 1)
    await apply(eng, read_up_to(newest))
    await apply(eng, older_mark)  # a smaller mark applied later does not unread anything
    assert all(n.read for n in await every_notice(eng))
    await apply(eng, liked(23, 4))
    by_group = {n.bundle: n for n in await every_notice(eng)}
    assert (by_group[like_bundle(POST)].read, by_group[like_bundle(POST)].actor_count) == (False, 2)
    assert by_group[comment_bundle(POST, 900)].read is True


async def test_notification_pages_are_stable(eng: EngagementStore) -> None:
    posts = range(6000, 6007)
    await apply(eng, *(liked(21, second=i // 2, post=p) for i, p in enumerate(posts)))
    seen = await every_notice(eng, size=3)
    expected = sorted(((ms(i // 2), like_bundle(p)) for i, p in enumerate(posts)), reverse=True)
    assert [(n.at_ms, n.bundle) for n in seen] == expected  # equal times: larger group first
    first = await eng.notifications(AUTHOR, 3, None)
    assert first.next == expected[2]
    await apply(eng, liked(22, second=60, post=7000))  # new activity between pages
    rest = await eng.notifications(AUTHOR, 10, first.next)
    assert [(n.at_ms, n.bundle) for n in rest.items] == expected[3:]
    assert rest.next is None


async def test_deleting_a_post_retracts_its_notifications(eng: EngagementStore) -> None:
    await apply(eng, liked(21, 1), commented(22, 901, 2), liked(23, 3, post=POST + 1),
                followed(24, 4))  # fmt: skip
    await apply(eng, post_deleted(POST))
    await apply(eng, liked(25, 5), commented(26, 902, 6))  # engagement that raced the deletion
    notes = await every_notice(eng)
    assert [n.bundle for n in notes] == [follow_bundle(ms(4)), like_bundle(POST + 1)]


async def test_a_retracted_newest_actor_gives_the_same_notice_in_any_order(
    stores: Stores,
) -> None:
    x_follows, y_follows, y_leaves = followed(60, 1), followed(61, 2), unfollowed(61, 3)
    live, replayed = await stores.engagement(), await stores.engagement()
    await apply(live, x_follows, y_follows, y_leaves)
    await apply(replayed, y_follows, y_leaves, x_follows)
    assert await every_notice(live) == await every_notice(replayed)
    [note] = await every_notice(live)
    assert (note.newest_id, note.actors) == (x_follows.event_id, [60])


def _interleave(streams: list[list[ev.Event]], rng: random.Random) -> list[ev.Event]:
    """One arbitrary merge of the streams, each stream's own order kept (as partitions are)."""
    queues = [list(s) for s in streams if s]
    out: list[ev.Event] = []
    while queues:
        q = rng.choice(queues)
        out.append(q.pop(0))
        queues = [q for q in queues if q]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_any_interleaving_builds_the_same_notifications(stores: Stores, seed: int) -> None:
    """Events of one post (or one user) stay in order, streams interleave arbitrarily, and a
    batch's tail is redelivered: every read answers the same."""
    rng = random.Random(seed)
    posts = [POST + i for i in range(3)]
    by_post: dict[int, list[ev.Event]] = {p: [] for p in posts}
    by_user: dict[int, list[ev.Event]] = {}
    comments: dict[int, list[tuple[int, int]]] = {p: [] for p in posts}
    kinds = ["like", "unlike", "comment", "uncomment", "follow", "unfollow", "delete", "read"]
    for second in range(40):
        kind, user, post = rng.choice(kinds), rng.randint(21, 25), rng.choice(posts)
        t = second + rng.randint(0, 1) * 86_400
        if kind in {"like", "unlike"}:
            by_post[post].append((liked if kind == "like" else unliked)(user, t, post=post))
        elif kind == "comment":
            cid = next(_ids)
            comments[post].append((cid, user))
            by_post[post].append(commented(user, cid, t, post=post))
        elif kind == "uncomment" and comments[post]:
            cid, commenter = comments[post].pop(0)
            by_post[post].append(uncommented(commenter, cid, t, post=post))
        elif kind in {"follow", "unfollow"}:
            event = followed(user, t) if kind == "follow" else unfollowed(user, t)
            by_user.setdefault(user, []).append(event)
        elif kind == "delete":
            by_user.setdefault(AUTHOR, []).append(post_deleted(post, t))
        elif kind == "read":
            by_user.setdefault(AUTHOR, []).append(read_up_to(next(_ids), t))
    streams = [*by_post.values(), *by_user.values()]
    built = []
    for _ in range(2):
        store = await stores.engagement()
        order = _interleave(streams, rng)
        cut = rng.randint(0, len(order))
        await apply(store, *order[:cut])
        await apply(store, *order[cut // 2 :])  # a redelivered tail
        built.append(await every_notice(store, size=3))
    assert built[0] == built[1]
