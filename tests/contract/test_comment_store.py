"""Contract of the CommentReader port and the engagement writer's comments, run against every
adapter: Redis always, Cassandra when PHOTOFEED_CASSANDRA_HOSTS names a live cluster (skipped
otherwise). Writes come from the real pure handlers."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from projections.engagement.ports import CommentView
from projections.groups import writes_for
from projections.ports import Position
from schemas import events as ev

if TYPE_CHECKING:
    from tests.contract.stores import EngagementStore, Stores

pytest_plugins = ["tests.contract.stores"]  # the `stores` fixture: one fresh store per adapter
pytestmark = pytest.mark.stack
_ids = itertools.count(7 * 10**15)  # event ids, all of 16 digits
BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHOR, POST = 11, 5_000
C = 8 * 10**15  # comment ids, all of 16 digits: equal times order alike as numbers and bytes


def at(second: float) -> datetime:
    return BASE + timedelta(seconds=second)


def ms(second: float) -> int:
    return int(at(second).timestamp() * 1000)


def commented(actor: int, comment: int, second: float = 0, text: str = "nice",
              post: int = POST) -> ev.CommentAdded:  # fmt: skip
    return ev.CommentAdded(
        event_id=next(_ids), occurred_at=at(second), actor_id=actor, comment_id=comment,
        post_id=post, author_id=AUTHOR, text=text,
    )  # fmt: skip


def uncommented(actor: int, commenter: int, comment: int, post: int = POST) -> ev.CommentDeleted:
    return ev.CommentDeleted(event_id=next(_ids), occurred_at=at(999), actor_id=actor,
                             comment_id=comment, post_id=post, author_id=AUTHOR,
                             commenter_id=commenter)  # fmt: skip


@pytest.fixture
async def eng(stores: Stores) -> EngagementStore:
    return await stores.engagement()


async def apply(store: EngagementStore, *events: ev.Event) -> None:
    await store.apply(writes_for("engagement", events))


async def all_comments(store: EngagementStore, post: int = POST, size: int = 3) -> list[int]:
    seen: list[int] = []
    after: Position | None = None
    while True:
        page, after = await store.comments(post, size, after)
        seen += [c.comment_id for c in page]
        if after is None:
            return seen
        assert after == Position(page[-1].created_ms, page[-1].comment_id)


async def test_comments_by_id(eng: EngagementStore) -> None:
    await apply(eng, commented(30, C + 1, 1, "first"), commented(AUTHOR, C + 2, 2, ""))
    assert await eng.comment(C + 1) == CommentView(C + 1, POST, 30, "first", ms(1))
    assert await eng.comment(C + 9) is None
    found = await eng.comments_by_id([C + 1, C + 2, C + 9])
    assert set(found) == {C + 1, C + 2}  # unknown ids are absent
    assert found[C + 2] == CommentView(C + 2, POST, AUTHOR, "", ms(2))  # empty text is text
    assert await eng.comments_by_id([]) == {}


async def test_comments_page_oldest_first_without_gaps(eng: EngagementStore) -> None:
    added = [commented(30 + i, C + i, second=i // 2, text=f"c{i}") for i in range(7)]
    await apply(eng, *added)
    await apply(eng, *added[:2])  # redelivered
    assert await all_comments(eng) == [C + i for i in range(7)]  # equal times: smaller id first
    page, after = await eng.comments(POST, 1, None)
    assert ([c.text for c in page], after) == (["c0"], Position(ms(0), C))
    page, after = await eng.comments(POST, 2, after)
    assert [c.comment_id for c in page] == [C + 1, C + 2]
    await apply(eng, commented(40, C + 50, second=50))  # a new comment between pages
    page, after = await eng.comments(POST, 10, after)
    assert [c.comment_id for c in page] == [C + i for i in range(3, 7)] + [C + 50]
    assert after is None
    assert (await eng.comments(POST + 1, 10, None)) == ([], None)


async def test_a_deleted_comment_is_absent(eng: EngagementStore) -> None:
    first, second = commented(30, C + 1, 1, "secret"), commented(31, C + 2, 2, "stays")
    await apply(eng, first, second)
    await apply(eng, uncommented(30, 30, C + 1), uncommented(AUTHOR, 31, C + 9))
    await apply(eng, first)  # redelivered: the older add brings neither the comment nor its text
    assert await eng.comment(C + 1) is None
    assert set(await eng.comments_by_id([C + 1, C + 2])) == {C + 2}
    assert await all_comments(eng) == [C + 2]


async def test_a_deletion_applied_before_its_comment_wins(stores: Stores) -> None:
    add, delete = commented(30, C + 1, 1), uncommented(AUTHOR, 30, C + 1)
    eng = await stores.engagement()
    await apply(eng, delete)
    await apply(eng, add)  # older, applied later
    assert await eng.comment(C + 1) is None
    assert await eng.comments(POST, 10, None) == ([], None)


async def test_deleting_the_post_keeps_its_comments(eng: EngagementStore) -> None:
    await apply(eng, commented(30, C + 1, 1))
    gone = ev.PostDeleted(event_id=next(_ids), occurred_at=at(2), actor_id=AUTHOR, post_id=POST)
    await apply(eng, gone)  # the gateway hides a deleted post's comments; the store keeps them
    assert await all_comments(eng) == [C + 1]


@pytest.mark.parametrize("seed", [1, 2])
async def test_any_order_builds_the_same_comments(stores: Stores, seed: int) -> None:
    rng = random.Random(seed)
    events: list[ev.Event] = []
    for i in range(12):
        post = POST + i % 2
        events.append(commented(30 + i % 4, C + i, second=i // 3, text=f"c{i}", post=post))
        if rng.random() < 0.4:
            events.append(uncommented(30 + i % 4, 30 + i % 4, C + i, post=post))
    built = []
    for order in (events, rng.sample(events, len(events))):
        eng = await stores.engagement()
        cut = rng.randint(0, len(order))
        await apply(eng, *order[:cut])
        await apply(eng, *order[cut // 2 :])
        built.append((await all_comments(eng, POST), await all_comments(eng, POST + 1),
                      await eng.comments_by_id([C + i for i in range(12)])))  # fmt: skip
    assert built[0] == built[1]
