"""Every Valkey Functions library of the projections, each function called on its own with its
KEYS and ARGV on the real Valkey (the test stack loaded the libraries when it started, as it
does for every stack: nothing is loaded here). Keys are spelled by the groups' key schemes, at
versions no other suite uses."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from infra.settings import GATEWAY, WORKER, Settings
from projections.backends.functions import (
    Library,
    LibraryMismatch,
    check_libraries,
    check_libraries_now,
    check_library,
    libraries,
)
from projections.backends.keys import template
from projections.backends.redis_batch import (
    PAGE_AFTER,
    PAGE_BEFORE,
    FunctionCall,
    call_functions,
)
from projections.engagement.keys import EngagementKeys
from projections.engagement.logic import (
    comment_bundle,
    comment_bundles_prefix,
    follow_bundle,
    like_bundle,
)
from projections.feeds.keys import FeedKeys
from projections.graph.keys import GraphKeys
from projections.photos.keys import PhotoKeys
from projections.versions.keys import applied_offsets
from projections.writes import seq_key

pytestmark = pytest.mark.stack
_versions = itertools.count(30_000)
CAPS = (3, 2)  # bundles per inbox, actors per bundle: small, so the caps show
AUTHOR, ANA, BOB, CAT, DAN, EVE = 101, 102, 103, 104, 105, 106
POST, OTHER_POST = 9_001, 9_002
DAY_MS = 86_400_000


def txt(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def fcall(redis: Redis, function: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    return await redis.fcall(function, len(keys), *keys, *args)


async def hash_of(redis: Redis, key: str) -> dict[str, str]:
    return {txt(k): txt(v) for k, v in (await redis.hgetall(key)).items()}


async def zset_of(redis: Redis, key: str) -> list[tuple[str, float]]:
    rows: Any = await redis.zrange(key, 0, -1, withscores=True)
    return [(txt(member), float(score)) for member, score in rows]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Redis]:
    """The worker's role: what the projections run as."""
    client = Redis.from_url(settings.redis_for(WORKER))
    yield client
    await client.aclose()


# --- loading and flags ---------------------------------------------------------------------------
async def test_the_stack_holds_every_library_of_the_checkout(
    redis: Redis, settings: Settings
) -> None:
    names = {library.name for library in libraries()}
    assert names == {
        "photofeed_versioned", "photofeed_graph", "photofeed_photos", "photofeed_feeds",
        "photofeed_engagement", "photofeed_pages",
    }  # fmt: skip
    await check_libraries(redis)
    with SyncRedis.from_url(settings.redis_for(WORKER)) as client:  # the worker's role
        check_libraries_now(client)
    graph = next(library for library in libraries() if library.name == "photofeed_graph")
    with pytest.raises(LibraryMismatch, match="another"):  # stale code under the name
        await check_library(redis, Library(graph.name, graph.code + "\n-- edited"))
    with pytest.raises(LibraryMismatch, match="no function library"):
        await check_library(redis, Library("photofeed_nothing", graph.code))


async def test_read_functions_are_read_only_and_key_deriving_ones_refuse_a_cluster(
    redis: Redis,
) -> None:
    flags: dict[str, set[str]] = {}
    for entry in await redis.function_list():
        fields = dict(zip(entry[::2], entry[1::2], strict=True))
        for function in fields[b"functions"]:
            f = dict(zip(function[::2], function[1::2], strict=True))
            flags[txt(f[b"name"])] = {txt(x) for x in f[b"flags"]}
    for read in ("page_before", "page_after", "post_stats"):
        assert flags[read] == {"no-writes"}, read
    for deriving in ("flag_celebrity", "release_photos", "set_likes", "set_comments",
                     "set_follow_notices", "set_post_mentions", "post_gone", "erase_user",
                     "set_post_tags"):  # fmt: skip
        assert flags[deriving] == {"no-cluster"}, deriving
    keyed = ("set_fields_if_newer", "set_members_if_newer", "raise_offsets",
             "sync_celebrities_followed", "add_content", "feed_add", "read_up_to")  # fmt: skip
    for name in keyed:  # every key in KEYS: no flag
        assert flags[name] == set(), name
    with pytest.raises(ResponseError, match="write"):  # a writing function is refused read-only
        await redis.fcall_ro("read_up_to", 1, EngagementKeys(next(_versions)).inbox_meta(1), "1")


async def test_the_app_roles_call_functions(settings: Settings) -> None:
    for role in (GATEWAY, WORKER):
        client = Redis.from_url(settings.redis_for(role))
        try:
            key = GraphKeys(next(_versions)).user(ANA)
            assert await fcall(client, "set_fields_if_newer", [key], ["_v", seq_key(1), 0]) == 1
            none = GraphKeys(next(_versions)).followers(ANA)
            assert await client.fcall_ro(PAGE_BEFORE, 1, none, "+inf", "", 5) == []
        finally:
            await client.aclose()


# --- photofeed_versioned -------------------------------------------------------------------------
async def test_set_fields_applies_newer_seqs_only(app: Redis) -> None:
    k = GraphKeys(next(_versions))
    ana, bob = k.user(ANA), k.user(BOB)
    args = ["_v", seq_key(20), 2, "username", "ana", "avatar_url", "a.jpg",
            "_v", seq_key(20), 1, "username", "bob"]  # fmt: skip
    assert await fcall(app, "set_fields_if_newer", [ana, bob], args) == 2
    older = ["_v", seq_key(19), 1, "username", "old", "_v", seq_key(21), 1, "username", "robert"]
    assert await fcall(app, "set_fields_if_newer", [ana, bob], older) == 1
    assert await hash_of(app, ana) == {"_v": seq_key(20), "username": "ana", "avatar_url": "a.jpg"}
    assert await hash_of(app, bob) == {"_v": seq_key(21), "username": "robert"}
    cleared = ["_v", seq_key(22), 1, "avatar_url", ""]  # '' deletes the field
    assert await fcall(app, "set_fields_if_newer", [ana], cleared) == 1
    assert await hash_of(app, ana) == {"_v": seq_key(22), "username": "ana"}
    assert await fcall(app, "set_fields_if_newer", [ana], cleared) == 0  # redelivered


async def test_set_members_keeps_tombstones_so_older_events_cannot_revive(app: Redis) -> None:
    k = GraphKeys(next(_versions))
    keys = [k.following(ANA), k.following_versions(ANA)]
    assert await fcall(app, "set_members_if_newer", keys, [BOB, 1000, seq_key(5), "1"]) == 1
    assert await fcall(app, "set_members_if_newer", keys, [BOB, 2000, seq_key(7), "0"]) == 1
    assert await fcall(app, "set_members_if_newer", keys, [BOB, 1000, seq_key(6), "1"]) == 0
    assert await zset_of(app, k.following(ANA)) == []
    assert await hash_of(app, k.following_versions(ANA)) == {str(BOB): seq_key(7)}
    two = [*keys, *keys]
    args = [CAT, 3000, seq_key(8), "1", DAN, 4000, seq_key(9), "1"]
    assert await fcall(app, "set_members_if_newer", two, args) == 2
    assert await zset_of(app, k.following(ANA)) == [(str(CAT), 3000.0), (str(DAN), 4000.0)]


async def test_raise_offsets_never_lowers_an_offset(app: Redis) -> None:
    key = applied_offsets(f"test-{uuid.uuid4().hex}")
    assert await fcall(app, "raise_offsets", [key], ["t:0", 10, "t:1", 3]) == 0
    await fcall(app, "raise_offsets", [key], ["t:0", 7, "t:1", 12, "t:2", 0])
    assert await hash_of(app, key) == {"t:0": "10", "t:1": "12", "t:2": "0"}
    await app.delete(key)


# --- photofeed_graph -----------------------------------------------------------------------------
async def test_celebrities_followed_follow_the_edges_and_the_flags(app: Redis) -> None:
    k = GraphKeys(next(_versions))
    await app.zadd(k.followers(CAT), {str(ANA): 1, str(BOB): 2})
    await app.zadd(k.following(ANA), {str(CAT): 1})
    await app.zadd(k.following(BOB), {str(CAT): 2})
    flagged = await fcall(app, "flag_celebrity", [k.celebrities(), k.followers(CAT)],
                          [CAT, template(k.celebrities_followed)])  # fmt: skip
    assert flagged == 2
    assert await app.smembers(k.celebrities()) == {str(CAT).encode()}
    for fan in (ANA, BOB):
        assert await app.smembers(k.celebrities_followed(fan)) == {str(CAT).encode()}
    await app.zrem(k.following(BOB), str(CAT))  # bob unfollowed; ana follows dan, no celebrity
    await app.zadd(k.following(ANA), {str(DAN): 3})
    keys = [k.celebrities(), k.following(BOB), k.celebrities_followed(BOB),
            k.following(ANA), k.celebrities_followed(ANA)]  # fmt: skip
    assert await fcall(app, "sync_celebrities_followed", keys, [CAT, DAN]) == 2
    assert await app.smembers(k.celebrities_followed(BOB)) == set()
    assert await app.smembers(k.celebrities_followed(ANA)) == {str(CAT).encode()}


# --- photofeed_photos ----------------------------------------------------------------------------
async def test_content_is_referenced_and_released_by_seq(app: Redis) -> None:
    k = PhotoKeys(next(_versions))
    sha, p1, p2 = "ab" * 32, 501, 502
    for photo in (p1, p2):
        await app.hset(k.photo(photo), mapping={"_v": seq_key(10), "status": "published",
                                                "sha256": sha})  # fmt: skip
    keys = [k.content(sha), k.content_refs(sha), k.photo(p1),
            k.content(sha), k.content_refs(sha), k.photo(p2)]  # fmt: skip
    args = [p1, 2, "width", 640, "blurhash", "x", p2, 1, "width", 640]
    assert await fcall(app, "add_content", keys, args) == 2
    assert await hash_of(app, k.content(sha)) == {"width": "640", "blurhash": "x"}
    assert await app.smembers(k.content_refs(sha)) == {b"501", b"502"}
    templates = [template(lambda i: k.content(str(i))), template(lambda i: k.content_refs(str(i)))]
    release = "release_photos"
    assert await fcall(app, release, [k.photo(p1)], [*templates, seq_key(9), p1]) == 1
    assert (await hash_of(app, k.photo(p1)))["status"] == "published"  # older: skipped
    assert await fcall(app, release, [k.photo(p1)], [*templates, seq_key(11), p1]) == 1
    assert (await hash_of(app, k.photo(p1)))["status"] == "deleted"
    assert await app.smembers(k.content_refs(sha)) == {b"502"}
    assert await app.exists(k.content(sha)) == 1  # p2 still shows it
    assert await fcall(app, release, [k.photo(p2)], [*templates, seq_key(12), p2]) == 1
    assert await app.exists(k.content(sha), k.content_refs(sha)) == 0
    again = [k.content(sha), k.content_refs(sha), k.photo(p1)]
    assert await fcall(app, "add_content", again, [p1, 1, "width", 640]) == 1
    assert await app.exists(k.content(sha), k.content_refs(sha)) == 0  # a deleted photo adds none


# --- photofeed_feeds -----------------------------------------------------------------------------
async def test_feed_add_keeps_the_newest_and_marks_the_trimmed(app: Redis) -> None:
    k = FeedKeys(next(_versions))
    keys = [k.feed(ANA), k.feed_trimmed(ANA), k.feed(BOB), k.feed_trimmed(BOB)]
    for post, ms in ((1, 100), (2, 200), (3, 300)):
        assert await fcall(app, "feed_add", keys[:2], [post, ms, 3]) == 1
    assert await app.exists(k.feed_trimmed(ANA)) == 0
    assert await fcall(app, "feed_add", keys, [4, 400, 3]) == 2
    assert await fcall(app, "feed_add", keys, [4, 400, 3]) == 2  # redelivered: the same
    assert [m for m, _ in await zset_of(app, k.feed(ANA))] == ["2", "3", "4"]
    assert await app.get(k.feed_trimmed(ANA)) == b"1"
    assert await zset_of(app, k.feed(BOB)) == [("4", 400.0)]
    assert await app.exists(k.feed_trimmed(BOB)) == 0


# --- photofeed_pages: one zset's pages -----------------------------------------------------------
async def test_zset_pages_continue_strictly_after_a_position_through_ties(app: Redis) -> None:
    key = FeedKeys(next(_versions)).timeline(ANA)
    await app.zadd(key, {"10": 5, "9": 5, "100": 5, "7": 3, "8": 9})
    newest = await app.fcall_ro(PAGE_BEFORE, 1, key, "+inf", "", 3)
    assert [txt(x) for x in newest] == ["8", "9", "9", "5", "100", "5"]  # ties: member bytes, desc
    rest = await app.fcall_ro(PAGE_BEFORE, 1, key, "5", "100", 10)
    assert [txt(x) for x in rest] == ["10", "5", "7", "3"]
    oldest = await app.fcall_ro(PAGE_AFTER, 1, key, "-inf", "", 2)
    assert [txt(x) for x in oldest] == ["7", "3", "10", "5"]
    after = await app.fcall_ro(PAGE_AFTER, 1, key, "5", "10", 10)
    assert [txt(x) for x in after] == ["100", "5", "9", "5", "8", "9"]


# --- photofeed_engagement ------------------------------------------------------------------------
class Engagement:
    """One fresh version of the engagement group's keys, and its functions' arguments."""

    def __init__(self) -> None:
        self.k = k = EngagementKeys(next(_versions))
        self.likes_templates = [template(k.post), template(k.liked), template(k.inbox),
                                template(k.inbox_meta), template(k.bundle_prefix)]  # fmt: skip
        # set_comments, set_post_mentions and post_gone meet mentioned users as they go
        self.recipients = [template(k.inbox), template(k.inbox_meta), template(k.bundle_prefix)]

    def run(self, post: int, liker: int, steps: Sequence[tuple[int, bool, int]]) -> list[Any]:
        """set_likes's ARGV of one (liker, post) run by AUTHOR's post, notifying."""
        out: list[Any] = [post, AUTHOR, liker, "1", len(steps)]
        for seq, liked, ms in steps:
            out += [seq_key(seq), "1" if liked else "0", ms]
        return out

    def comment_entry(
        self, comment: int, seq: int, present: bool, ms: int, commenter: int, text: str,
        mentions: str = "", told: str = "",
    ) -> tuple[list[str], list[Any]]:  # fmt: skip
        """set_comments's KEYS and ARGV of one comment (after the caps and `recipients`)."""
        k = self.k
        keys = [k.comment(comment), k.comments(POST), k.comments_versions(POST), k.post(POST),
                k.inbox(AUTHOR), k.inbox_meta(AUTHOR), k.written(commenter)]  # fmt: skip
        args = [comment, seq_key(seq), "1" if present else "0", ms, POST, commenter, text,
                comment_bundle(POST, comment), "1", k.bundle_prefix(AUTHOR), AUTHOR, mentions,
                told]  # fmt: skip
        return keys, args

    def follow_entry(self, follower: int, seq: int, follows: bool, ms: int) -> list[Any]:
        return [follower, seq_key(seq), "1" if follows else "0", ms, follow_bundle(ms),
                self.k.bundle_prefix(AUTHOR)]  # fmt: skip

    def follow_keys(self) -> list[str]:
        k = self.k
        return [k.follow_notices(AUTHOR), k.inbox(AUTHOR), k.inbox_meta(AUTHOR)]


async def test_set_likes_counts_flips_and_caps_a_bundles_actors(app: Redis) -> None:
    e = Engagement()
    k = e.k
    runs = [*e.run(POST, ANA, [(11, True, 1000)]), *e.run(POST, BOB, [(12, True, 2000)]),
            *e.run(POST, CAT, [(13, True, 3000), (14, False, 3500), (15, True, 4000)])]  # fmt: skip
    assert await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *runs]) == 5
    assert await hash_of(app, k.post(POST)) == {"likes": "3"}
    assert await hash_of(app, k.liked(CAT)) == {str(POST): "1" + seq_key(15) + f"|{AUTHOR}"}
    bundle = like_bundle(POST)
    assert await zset_of(app, k.bundle_prefix(AUTHOR) + bundle) == [
        (str(BOB), 2000.0), (str(CAT), 4000.0),
    ]  # fmt: skip  # the newest 2 actors kept, the count exact
    meta = await hash_of(app, k.inbox_meta(AUTHOR))
    assert meta == {f"{bundle}|n": "3", f"{bundle}|id": seq_key(15),
                    f"{bundle}|{BOB}": seq_key(12), f"{bundle}|{CAT}": seq_key(15)}  # fmt: skip
    assert await zset_of(app, k.inbox(AUTHOR)) == [(bundle, 4000.0)]
    redelivered = await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *runs])
    assert redelivered == 0
    unlike = e.run(POST, CAT, [(16, False, 5000)])
    assert await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *unlike]) == 1
    assert await hash_of(app, k.post(POST)) == {"likes": "2"}
    assert (await hash_of(app, k.inbox_meta(AUTHOR)))[f"{bundle}|id"] == seq_key(12)
    assert await zset_of(app, k.inbox(AUTHOR)) == [(bundle, 2000.0)]


async def test_comments_notify_and_a_deletion_keeps_no_text(app: Redis) -> None:
    e = Engagement()
    k = e.k
    keys, args = e.comment_entry(801, 21, True, 1000, ANA, "hello")
    assert await fcall(app, "set_comments", keys, [*CAPS, *e.recipients, *args]) == 1
    body = {"post_id": str(POST), "commenter_id": str(ANA), "created_ms": "1000"}
    assert await hash_of(app, k.comment(801)) == {**body, "text": "hello"}
    assert await hash_of(app, k.written(ANA)) == {"801": f"{POST}|{AUTHOR}"}
    bundle = comment_bundle(POST, 801)
    assert await zset_of(app, k.inbox(AUTHOR)) == [(bundle, 1000.0)]
    older, older_args = e.comment_entry(801, 20, False, 1000, ANA, "")
    assert await fcall(app, "set_comments", older, [*CAPS, *e.recipients, *older_args]) == 0
    gone, gone_args = e.comment_entry(801, 22, False, 1000, ANA, "")
    assert await fcall(app, "set_comments", gone, [*CAPS, *e.recipients, *gone_args]) == 1
    assert await hash_of(app, k.comment(801)) == {**body, "deleted": "1"}  # no text
    assert await zset_of(app, k.comments(POST)) == []
    assert await zset_of(app, k.inbox(AUTHOR)) == []
    assert await hash_of(app, k.inbox_meta(AUTHOR)) == {}


async def test_follow_notices_bundle_by_day_and_the_inbox_keeps_its_newest(app: Redis) -> None:
    e = Engagement()
    k = e.k
    day = 20_000 * DAY_MS
    entries = [e.follow_entry(ANA, 31, True, day), e.follow_entry(BOB, 32, True, day + 1),
               e.follow_entry(CAT, 33, True, day + DAY_MS)]  # fmt: skip
    keys = e.follow_keys() * len(entries)
    args = [x for entry in entries for x in entry]
    assert await fcall(app, "set_follow_notices", keys, [*CAPS, *args]) == 3
    first, second = follow_bundle(day), follow_bundle(day + DAY_MS)
    assert await zset_of(app, k.inbox(AUTHOR)) == [(first, day + 1.0), (second, day + DAY_MS)]
    assert (await hash_of(app, k.inbox_meta(AUTHOR)))[f"{first}|n"] == "2"
    later = [e.follow_entry(DAN, 34, True, day + 2 * DAY_MS),
             e.follow_entry(EVE, 35, True, day + 3 * DAY_MS)]  # fmt: skip
    args = [x for entry in later for x in entry]
    assert await fcall(app, "set_follow_notices", e.follow_keys() * 2, [*CAPS, *args]) == 2
    inbox = [b for b, _ in await zset_of(app, k.inbox(AUTHOR))]
    assert len(inbox) == CAPS[0]  # capped: the oldest bundle dropped
    assert first not in inbox
    assert not any(f.startswith(first) for f in await hash_of(app, k.inbox_meta(AUTHOR)))
    assert await app.exists(k.bundle_prefix(AUTHOR) + first) == 0
    unfollow = e.follow_entry(CAT, 40, False, day + 9 * DAY_MS)
    assert await fcall(app, "set_follow_notices", e.follow_keys(), [*CAPS, *unfollow]) == 1
    assert second not in [b for b, _ in await zset_of(app, k.inbox(AUTHOR))]
    assert (await hash_of(app, k.follow_notices(AUTHOR)))[str(CAT)] == "0" + seq_key(40) + (
        f"|{second}"
    )


async def test_post_gone_marks_the_post_and_drops_its_notifications(app: Redis) -> None:
    e = Engagement()
    k = e.k
    likes = e.run(POST, ANA, [(51, True, 1000)])
    await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *likes])
    keys, args = e.comment_entry(802, 52, True, 2000, BOB, "nice")
    await fcall(app, "set_comments", keys, [*CAPS, *e.recipients, *args])
    assert len(await zset_of(app, k.inbox(AUTHOR))) == 2
    gone_keys = [k.post(POST), k.comments(POST), k.inbox(AUTHOR), k.inbox_meta(AUTHOR)]
    gone_args = [like_bundle(POST), comment_bundles_prefix(POST), k.bundle_prefix(AUTHOR), POST]
    assert await fcall(app, "post_gone", gone_keys, [*CAPS, *e.recipients, *gone_args]) == 1
    assert (await hash_of(app, k.post(POST)))["deleted"] == "1"
    assert await zset_of(app, k.inbox(AUTHOR)) == []
    assert await hash_of(app, k.inbox_meta(AUTHOR)) == {}
    late = e.run(POST, CAT, [(53, True, 3000)])  # a deleted post gains no notification
    await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *late])
    assert await zset_of(app, k.inbox(AUTHOR)) == []


async def test_the_read_mark_only_moves_forward(app: Redis) -> None:
    k = Engagement().k
    keys = [k.inbox_meta(ANA), k.inbox_meta(BOB)]
    assert await fcall(app, "read_up_to", keys, [seq_key(60), seq_key(70)]) == 2
    assert await fcall(app, "read_up_to", keys, [seq_key(65), seq_key(69)]) == 2
    assert await hash_of(app, keys[0]) == {"read": seq_key(65)}
    assert await hash_of(app, keys[1]) == {"read": seq_key(70)}


async def test_post_stats_reads_counts_and_the_viewers_likes(app: Redis) -> None:
    e = Engagement()
    k = e.k
    likes = [*e.run(POST, ANA, [(71, True, 1000)]), *e.run(POST, BOB, [(72, True, 1000)]),
             *e.run(OTHER_POST, ANA, [(73, True, 1000), (74, False, 2000)])]  # fmt: skip
    await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *likes])
    keys, args = e.comment_entry(803, 75, True, 3000, CAT, "hey")
    await fcall(app, "set_comments", keys, [*CAPS, *e.recipients, *args])

    async def stats(liked: str) -> list[int]:
        keys = [liked, k.post(POST), k.comments(POST), k.post(OTHER_POST), k.comments(OTHER_POST)]
        return [
            int(x) for x in await app.fcall_ro("post_stats", len(keys), *keys, POST, OTHER_POST)
        ]

    assert await stats(k.liked(ANA)) == [2, 1, 1, 0, 0, 0]
    assert await stats(k.liked(CAT)) == [2, 1, 0, 0, 0, 0]
    assert await stats("") == [2, 1, 0, 0, 0, 0]  # anonymous


async def test_erase_user_takes_everything_of_theirs_out(app: Redis) -> None:
    e = Engagement()
    k = e.k
    likes = [*e.run(POST, ANA, [(81, True, 1000)]), *e.run(POST, BOB, [(82, True, 1100)])]
    await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *likes])
    keys, args = e.comment_entry(804, 83, True, 1200, ANA, "mine")
    await fcall(app, "set_comments", keys, [*CAPS, *e.recipients, *args])
    follow = e.follow_entry(ANA, 84, True, 1300)
    await fcall(app, "set_follow_notices", e.follow_keys(), [*CAPS, *follow])
    own = OTHER_POST  # ana's own post: bob liked it (notifying ana), then she deleted it
    notify_ana = [own, ANA, BOB, "1", 1, seq_key(85), "1", 1400]
    await fcall(app, "set_likes", [], [*CAPS, *e.likes_templates, *notify_ana])
    assert await app.exists(k.bundle_prefix(ANA) + like_bundle(own)) == 1
    await app.hset(k.post(own), "deleted", "1")
    met = (k.post, k.comments, k.comments_versions, k.comment, k.inbox, k.inbox_meta,
           k.bundle_prefix)  # fmt: skip
    mine = [k.liked(ANA), k.written(ANA), k.follow_notices(ANA), k.inbox(ANA), k.inbox_meta(ANA)]
    followed = [k.follow_notices(AUTHOR), k.inbox(AUTHOR), k.inbox_meta(AUTHOR)]
    keys = [*mine, *followed, k.post(own)]
    args = [*CAPS, ANA, 1, AUTHOR, *(template(key_of) for key_of in met), own]
    assert await fcall(app, "erase_user", keys, args) == 1
    assert await hash_of(app, k.post(POST)) == {"likes": "1"}  # bob's like stays
    bundle = like_bundle(POST)
    assert await zset_of(app, k.bundle_prefix(AUTHOR) + bundle) == [(str(BOB), 1100.0)]
    assert await zset_of(app, k.inbox(AUTHOR)) == [(bundle, 1100.0)]  # comment, follow: gone
    assert await hash_of(app, k.inbox_meta(AUTHOR)) == {
        f"{bundle}|n": "1", f"{bundle}|id": seq_key(82), f"{bundle}|{BOB}": seq_key(82),
    }  # fmt: skip
    assert await app.exists(k.comment(804), k.comments(POST), k.comments_versions(POST)) == 0
    assert await hash_of(app, k.follow_notices(AUTHOR)) == {}
    assert await hash_of(app, k.post(own)) == {"likes": "1"}  # no deletion mark a replay lacks
    assert await app.exists(k.liked(ANA), k.written(ANA), k.inbox(ANA), k.inbox_meta(ANA),
                            k.bundle_prefix(ANA) + like_bundle(own)) == 0  # fmt: skip


# --- calls from Python ---------------------------------------------------------------------------
async def test_a_batch_of_calls_runs_in_order_in_one_round_trip(app: Redis) -> None:
    key = GraphKeys(next(_versions)).user(ANA)
    calls: list[FunctionCall] = [
        ("set_fields_if_newer", [key], ["_v", seq_key(2), 1, "username", "new"]),
        ("set_fields_if_newer", [key], ["_v", seq_key(1), 1, "username", "old"]),
    ]
    assert await call_functions(app, calls) == [1, 0]  # in order: the older one is skipped
    assert await hash_of(app, key) == {"_v": seq_key(2), "username": "new"}
    assert await call_functions(app, []) == []
    with pytest.raises(ResponseError, match=r"[Ff]unction not found"):
        await call_functions(app, [("no_such_function", [key], [])])
