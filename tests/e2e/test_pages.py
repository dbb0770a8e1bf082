"""The one-call read path over HTTP on the real stack: the home feed, a profile grid and one post
are each ONE server-side call (FCALL_RO of projections/pages/pages.lua) that also checks the
session; a revoked or erased session is 401 on each, never a page; a post projected before cards
existed is served, identically, through the per-group readers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from photofeed.bootstrap import build_gateway
from projections.feeds.keys import FeedKeys
from projections.versions.keys import ACTIVE_VERSIONS
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import followed, published

pytestmark = pytest.mark.stack
PAGES = ("/feed?limit=5", "/users/{author}/posts?limit=5", "/posts/{post}")
PAGE_FUNCTIONS = ("feed_page", "grid_page", "post_card")  # what PAGES call, in that order
# the one-call pages of pages.lua: only the gateway calls them (the worker's writes and the
# per-group readers call other functions, of other names)
ONE_CALL_PAGES = {*PAGE_FUNCTIONS, "post_cards", "comments_page", "notifications_page"}


@contextlib.asynccontextmanager
async def page_calls(redis: Redis) -> AsyncIterator[list[str]]:
    """The one-call page functions called (FCALL or FCALL_RO, by name) while the block runs, in
    order, as MONITOR sees them; filled when the block ends."""
    called: list[str] = []
    marker = f"end-of-block-{uuid.uuid4().hex}"
    async with redis.monitor() as monitor:
        yield called
        await redis.echo(marker)
        while marker not in (command := (await monitor.next_command())["command"]):
            words = command.split(" ", 2)
            if words[0].upper() in ("FCALL", "FCALL_RO") and words[1] in ONE_CALL_PAGES:
                called.append(words[1])


async def author_with_a_post(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> tuple[str, str, int, str]:
    """(author id, viewer id, post id, viewer token): the viewer follows the author, whose post
    is in the viewer's feed."""
    author, _ = await register(api)
    viewer, token = await register(api)
    await event_log.append(followed(int(viewer), int(author)))
    post = published(author, "one call #pages")
    await event_log.append(post)
    await eventually(lambda: api.get("/feed", headers=bearer(token)),
                     lambda r: str(post.post_id) in r.text)  # fmt: skip
    return author, viewer, post.post_id, token


async def test_each_page_is_one_server_side_call(
    api: httpx.AsyncClient, event_log: KafkaEventLog, redis: Redis
) -> None:
    author, _, post, token = await author_with_a_post(api, event_log)
    for path, function in zip(PAGES, PAGE_FUNCTIONS, strict=True):
        async with page_calls(redis) as called:
            r = await api.get(path.format(author=author, post=post), headers=bearer(token))
        assert r.status_code == 200, r.text
        assert called == [function], path  # one call of the page's function
        body = r.json()
        card = body if "post_id" in body else body["posts"][0]
        assert card["post_id"] == str(post)
        assert card["user"]["user_id"] == author
        assert card["image_urls"]["feed"].endswith(f"v/{post}/f.jpg")
        assert card["image_urls"]["feed"].startswith("http")
        assert (card["like_count"], card["comment_count"], card["liked_by_viewer"]) == (0, 0, False)


async def test_a_revoked_session_gets_401_from_every_one_call_page(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, _, post, token = await author_with_a_post(api, event_log)
    assert (await api.delete("/sessions/current", headers=bearer(token))).status_code == 204
    for path in PAGES:
        r = await api.get(path.format(author=author, post=post), headers=bearer(token))
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["code"] == "session_revoked"
    anonymous = await api.get(f"/posts/{post}")  # the same pages stay public without a token
    assert anonymous.status_code == 200
    assert anonymous.json()["liked_by_viewer"] is False


async def test_likes_and_counts_are_the_viewers_and_exact(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    _author, _, post, token = await author_with_a_post(api, event_log)
    assert (await api.post(f"/likes/{post}", headers=bearer(token))).status_code == 204
    comment = await api.post(f"/posts/{post}/comments", json={"text": "hi"}, headers=bearer(token))
    assert comment.status_code == 201
    r = await eventually(
        lambda: api.get(f"/posts/{post}", headers=bearer(token)),
        lambda r: r.json()["like_count"] == 1 and r.json()["comment_count"] == 1,
    )
    assert r.json()["liked_by_viewer"] is True
    assert (await api.get(f"/posts/{post}")).json()["liked_by_viewer"] is False  # anonymous
    feed = (await api.get("/feed", headers=bearer(token))).json()["posts"]
    assert [(p["like_count"], p["liked_by_viewer"]) for p in feed if p["post_id"] == str(post)] \
        == [(1, True)]  # fmt: skip


async def test_a_post_without_a_card_is_served_the_same_by_the_group_readers(
    api: httpx.AsyncClient, event_log: KafkaEventLog, redis: Redis
) -> None:
    author, _, post, token = await author_with_a_post(api, event_log)
    pages = [(await api.get(p.format(author=author, post=post), headers=bearer(token))).json()
             for p in PAGES]  # fmt: skip
    version = int(await redis.hget(ACTIVE_VERSIONS, "feeds") or 1)
    key = FeedKeys(version).post(post)
    card = await redis.hget(key, "card")
    assert card is not None
    assert await redis.hdel(key, "card") == 1  # as before cards
    try:
        async with page_calls(redis) as called:
            legacy = [
                (await api.get(p.format(author=author, post=post), headers=bearer(token))).json()
                for p in PAGES
            ]
        assert called == list(PAGE_FUNCTIONS)  # tried, then fell back
    finally:  # the live version must stay what a replay rebuilds (test_replay compares them)
        await redis.hset(key, "card", card)
    assert legacy == pages


async def test_unknown_author_and_post_are_404(api: httpx.AsyncClient) -> None:
    _, token = await register(api)
    for path in ("/users/1/posts", "/posts/1"):
        r = await api.get(path, headers=bearer(token))
        assert r.status_code == 404, r.text


@contextlib.asynccontextmanager
async def in_process_gateway(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The real gateway app in this process (its lifespan driven over ASGI), to switch its
    one-call pages off and compare."""
    app = build_gateway(settings)
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    running = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw/api/v1") as client:
            yield client, app.state.deps
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await running


async def test_one_call_pages_equal_the_group_readers_pages(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    author, viewer, post, token = await author_with_a_post(api, event_log)
    _, other_token = await register(api)
    for t in (token, other_token):
        assert (await api.post(f"/likes/{post}", headers=bearer(t))).status_code == 204
        for text in ('say "hi" \\ <b>', "ünïcødé ✓ 🌅", "x" * 300):
            r = await api.post(f"/posts/{post}/comments", json={"text": text}, headers=bearer(t))
            assert r.status_code == 201, r.text
    author_token = (await api.post("/sessions", json={
        "username": (await api.get(f"/users/{author}")).json()["username"],
        "password": "correct horse"})).json()["token"]  # fmt: skip

    # every like and comment applied (one post: one partition, in order), so no page below can
    # change between the two servers' reads
    def counts(r: httpx.Response) -> tuple[int, int]:
        return r.json()["like_count"], r.json()["comment_count"]

    await eventually(lambda: api.get(f"/posts/{post}"), lambda r: counts(r) == (2, 6))
    await eventually(lambda: api.get("/notifications", headers=bearer(author_token)),
                     lambda r: len(r.json()["notifications"]) >= 7)  # fmt: skip
    paths: list[tuple[str, str | None]] = [
        (p, token) for p in (*PAGES, f"/posts/{post}/comments?limit=4")
    ]
    paths += [
        ("/notifications?limit=3", author_token),
        (f"/users/{viewer}/posts", token),
        ("/search?q=call&limit=1", token),
        ("/search?q=call", None),
    ]
    await eventually(
        lambda: api.get("/search?q=call&limit=100"), lambda r: str(post) in r.text
    )  # indexed: both reads see the same hits
    async with in_process_gateway(settings) as (client, deps):

        async def pages() -> list[Any]:
            out = []
            for path, t in paths:
                auth = bearer(t) if t else {}
                r = await client.get(path.format(author=author, post=post), headers=auth)
                assert r.status_code == 200, (path, r.text)
                body = r.json()
                out.append(body)
                cursor = body.get("next_cursor") if isinstance(body, dict) else None
                if cursor:  # the second page too
                    url = path.format(author=author, post=post)
                    url += ("&" if "?" in url else "?") + f"cursor={cursor}"
                    nxt = await client.get(url, headers=auth)
                    out.append(nxt.json())
            return out

        one_call = await pages()
        deps.pages_at = lambda *_: None  # the per-group readers, as with Cassandra stores
        deps._adapters.clear()
        readers = await pages()
        for a, b in zip(one_call, readers, strict=True):
            assert a == b, (a, b)
    notices = [n for page in one_call if "notifications" in page for n in page["notifications"]]
    assert any(n["type"] == "comment" and n["text"] for n in notices)
    assert any(page.get("users") == [] and page["posts"] for page in one_call)  # search hits
