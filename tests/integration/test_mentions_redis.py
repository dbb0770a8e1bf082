"""Mention notifications in the engagement group's Redis adapter (engagement.lua) on a real
Valkey: a caption's and a comment's mentions tell each user they name once (never the author),
a deletion retracts them, a republished post tells nobody twice, and erasing a user leaves what
a replay of the log without that user's events builds (compared key by key)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from projections.engagement.keys import EngagementKeys
from projections.engagement.logic import without_notices_to
from projections.engagement.redis import RedisEngagement
from projections.erasure.redis import ErasureFacts, erase_engagement
from projections.groups import writes_for
from projections.versions.redis_admin import RedisVersionAdmin
from schemas import events as ev
from streams.opener import people_of

pytestmark = pytest.mark.stack
_versions = itertools.count(71_000)
_ids = itertools.count(4 * 10**15)
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHOR, ANA, BOB, CAROL = 11, 21, 22, 23
POST = 6_000


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def published(author: int, post: int, caption: str, *mentioned: int) -> ev.PostPublished:
    """`caption` with an @name per mentioned user appended."""
    mentions = []
    for user in mentioned:
        start = len(caption) + 1
        caption += f" @user{user}"
        mentions.append(ev.Mention(user, start, len(caption)))
    return ev.PostPublished(
        event_id=next(_ids), occurred_at=at(1), actor_id=author, post_id=post, photo_id=post,
        caption=caption, tags=(), variants=ev.Variants("t", "f", "u"), width=1, height=1,
        blurhash="", mentions=tuple(mentions),
    )  # fmt: skip


def commented(
    actor: int, comment: int, *mentioned: int, post: int = POST, author: int = AUTHOR
) -> ev.CommentAdded:
    text = "look"
    mentions = []
    for user in mentioned:
        start = len(text) + 1
        text += f" @user{user}"
        mentions.append(ev.Mention(user, start, len(text)))
    return ev.CommentAdded(
        event_id=next(_ids), occurred_at=at(2), actor_id=actor, comment_id=comment, post_id=post,
        author_id=author, text=text, mentions=tuple(mentions),
    )  # fmt: skip


def deleted_comment(actor: int, commenter: int, comment: int) -> ev.CommentDeleted:
    return ev.CommentDeleted(event_id=next(_ids), occurred_at=at(3), actor_id=actor,
                             comment_id=comment, post_id=POST, author_id=AUTHOR,
                             commenter_id=commenter)  # fmt: skip


def deleted_post(author: int, post: int = POST) -> ev.PostDeleted:
    return ev.PostDeleted(event_id=next(_ids), occurred_at=at(4), actor_id=author, post_id=post)


@pytest.fixture
async def eng(redis: Redis) -> RedisEngagement:
    return RedisEngagement(redis, next(_versions))


async def apply(
    eng: RedisEngagement, *events: ev.Event, erased: frozenset[int] = frozenset()
) -> None:
    """As the engagement planner: no notice for an erased user."""
    await eng.apply(without_notices_to(set(erased), writes_for("engagement", events)))


async def inbox(eng: RedisEngagement, user: int) -> list[tuple[str, list[int], int]]:
    page = await eng.notifications(user, 50, None)
    return [(n.bundle, n.actors, n.actor_count) for n in page.items]


async def test_a_caption_tells_each_user_it_names_once(eng: RedisEngagement) -> None:
    post = published(AUTHOR, POST, "sunset", ANA, BOB, ANA, AUTHOR)
    await apply(eng, post)
    assert await inbox(eng, ANA) == [(f"mention:{POST}", [AUTHOR], 1)]
    assert await inbox(eng, BOB) == [(f"mention:{POST}", [AUTHOR], 1)]
    assert await inbox(eng, AUTHOR) == []  # mentioning yourself tells nobody
    again = published(AUTHOR, POST, "sunset", ANA, BOB, ANA, AUTHOR)  # a republished post
    await apply(eng, again, post)
    assert await inbox(eng, ANA) == [(f"mention:{POST}", [AUTHOR], 1)]


async def test_deleting_the_post_retracts_and_a_late_republication_tells_nobody(
    eng: RedisEngagement,
) -> None:
    await apply(eng, published(AUTHOR, POST, "x", ANA), published(AUTHOR, POST + 1, "y", ANA))
    await apply(eng, deleted_post(AUTHOR))
    await apply(eng, published(AUTHOR, POST, "x", ANA, BOB))  # raced the deletion
    assert await inbox(eng, ANA) == [(f"mention:{POST + 1}", [AUTHOR], 1)]
    assert await inbox(eng, BOB) == []


async def test_a_comment_tells_those_it_names_until_it_is_deleted(eng: RedisEngagement) -> None:
    await apply(eng, published(AUTHOR, POST, "x"), commented(ANA, 901, BOB, ANA, CAROL))
    assert await inbox(eng, BOB) == [(f"mention:{POST}:901", [ANA], 1)]
    assert await inbox(eng, CAROL) == [(f"mention:{POST}:901", [ANA], 1)]
    assert await inbox(eng, ANA) == []
    [view] = (await eng.comments(POST, 10, None))[0]
    assert [(m.user_id, m.username) for m in view.mentions] == [
        (BOB, f"user{BOB}"), (ANA, f"user{ANA}"), (CAROL, f"user{CAROL}"),
    ]  # fmt: skip
    await apply(eng, deleted_comment(AUTHOR, ANA, 901))  # the post's author removes it
    assert await inbox(eng, BOB) == []
    assert await inbox(eng, CAROL) == []
    assert await inbox(eng, AUTHOR) == []


async def test_a_comment_added_and_deleted_in_one_batch_tells_nobody(eng: RedisEngagement) -> None:
    await apply(eng, commented(ANA, 902, BOB), deleted_comment(ANA, ANA, 902))
    assert await inbox(eng, BOB) == []


async def assert_like_a_replay(
    redis: Redis, events: Sequence[ev.Event], erased: int, facts: ErasureFacts
) -> None:
    """Erasing `erased` from a version built from `events` leaves exactly the version built from
    the events that do not involve them (as the opener drops them), notices to them left out."""
    live, replay = next(_versions), next(_versions)
    await apply(RedisEngagement(redis, live), *events)
    await erase_engagement(redis, live, erased, facts)
    kept = [e for e in events if erased not in people_of(e)]
    await apply(RedisEngagement(redis, replay), *kept, erased=frozenset({erased}))
    admin = RedisVersionAdmin(redis, lambda v: EngagementKeys(v).prefix)
    assert await admin.diff(live, replay) == (0, [])
    await admin.drop(live)
    await admin.drop(replay)


async def test_erasing_a_user_who_mentioned_others_is_like_a_replay(redis: Redis) -> None:
    events = [
        published(ANA, POST, "mine", BOB, CAROL),  # Ana's post mentions Bob and Carol
        published(ANA, POST + 1, "gone", BOB),
        deleted_post(ANA, POST + 1),
        published(AUTHOR, POST + 2, "theirs", ANA),  # Ana is mentioned
        commented(ANA, 903, BOB, post=POST + 2),  # Ana's comment mentions Bob
        commented(CAROL, 904, ANA, BOB, post=POST, author=ANA),  # on Ana's post, naming her
        commented(BOB, 905, CAROL, post=POST + 2),
    ]
    facts = ErasureFacts(followers=[], following=[], posts=[POST, POST + 1], photos=[],
                         contents=[], comments=[[903, POST + 2, AUTHOR]])  # fmt: skip
    await assert_like_a_replay(redis, events, ANA, facts)


async def test_erasing_a_mentioned_user_is_like_a_replay(redis: Redis) -> None:
    events = [
        published(AUTHOR, POST, "hello", BOB, CAROL),
        commented(CAROL, 906, BOB),
        commented(BOB, 907, CAROL),
        deleted_comment(AUTHOR, CAROL, 906),
    ]
    facts = ErasureFacts(followers=[], following=[], posts=[], photos=[], contents=[],
                         comments=[[907, POST, AUTHOR]])  # fmt: skip
    await assert_like_a_replay(redis, events, BOB, facts)
