"""Hashtags and @mentions end to end, through the gateway, Kafka, the worker and Valkey: a
caption's hashtags become the post's tags, listed by GET /tags/{tag} (a projection) and found by a
#tag search, until the post is deleted; @names in a caption or a comment become structured
mentions and notify those named, retracted on deletion; unknown names and names past the bound
stay plain text; the one-call pages equal the per-group readers; feeds and engagement replay to
what live built, before and after the author's erasure, which takes their tag entries along."""

from __future__ import annotations

import random
import urllib.parse
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from photofeed.bootstrap import erasure_workflow
from photofeed.replay_cli import replay_group
from photofeed.stores import make_stores
from projections.groups import Group
from projections.text import MAX_MENTIONS, MAX_TAGS
from tests import samples
from tests.e2e.test_pages import in_process_gateway
from tests.fixtures import bearer, eventually, register, unique

pytestmark = pytest.mark.stack
PUBLISH_TIMEOUT_S = 30.0
ERASURE_TIMEOUT_S = 90.0


async def ok(api: httpx.AsyncClient, method: str, path: str, token: str | None, **kw: Any) -> Any:
    r = await api.request(method, path, headers=bearer(token) if token else {}, **kw)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


async def publish(
    api: httpx.AsyncClient, token: str, caption: str, tags: str | None = None
) -> dict[str, Any]:
    """A direct upload with `caption` (and the form's `tags`), polled until published: the post."""
    form = {"caption": caption} | ({"tags": tags} if tags is not None else {})
    photo = samples.jpeg(samples.scene(160, 120, seed=random.randrange(1 << 30)))
    sent = await ok(api, "POST", "/photos", token, data=form,
                    files={"photo": ("p.jpg", photo, "image/jpeg")})  # fmt: skip
    status = await eventually(
        lambda: ok(api, "GET", f"/photos/{sent['photo_id']}/status", token),
        lambda s: s["status"] != "processing", timeout_s=PUBLISH_TIMEOUT_S,
    )  # fmt: skip
    assert status["status"] == "published", status
    answer = await eventually(
        lambda: api.get(f"/posts/{status['post_id']}"), lambda r: r.status_code == 200
    )
    post: dict[str, Any] = answer.json()
    return post


async def tag_page(api: httpx.AsyncClient, tag: str) -> list[str]:
    body = await ok(api, "GET", f"/tags/{urllib.parse.quote(tag)}?limit=100", None)
    return [p["post_id"] for p in body["posts"]]


async def notices(api: httpx.AsyncClient, token: str, kind: str) -> list[dict[str, Any]]:
    body = await ok(api, "GET", "/notifications?limit=100", token)
    return [n for n in body["notifications"] if n["type"] == kind]


def shown(mentions: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    return [(m["user_id"], m["username"], m["start"], m["end"]) for m in mentions]


async def test_caption_hashtags_are_tags_listed_by_their_tag_and_searchable(
    api: httpx.AsyncClient,
) -> None:
    _, token = await register(api)
    sea = unique("sea")  # a tag of this test alone
    post = await publish(api, token, f"sunset #{sea.upper()} #{sea} x#notatag", tags="Beach")
    assert post["tags"] == ["beach", sea]  # explicit first, normalised, de-duplicated
    pid = post["post_id"]
    assert await eventually(lambda: tag_page(api, sea), lambda ids: ids == [pid])
    for spelt in (sea.upper(), "#" + sea):  # the route normalises as captions are
        assert await tag_page(api, spelt) == [pid]
    query = {"q": f"#{sea.upper()}"}
    found = await eventually(lambda: ok(api, "GET", "/search", token, params=query),
                             lambda b: len(b["posts"]) == 1)  # fmt: skip
    assert found["posts"][0]["post_id"] == pid
    assert await tag_page(api, unique("never")) == []  # an unknown tag: an empty page
    for bad in ("a-b", "#", "x" * 51, "##a"):
        r = await api.get(f"/tags/{urllib.parse.quote(bad)}")
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_field"), bad
        assert "tag" in r.json()["error"]["message"]

    await ok(api, "DELETE", f"/posts/{pid}", token)
    assert await eventually(lambda: tag_page(api, sea), lambda ids: ids == []) == []


async def test_hashtags_past_the_bound_stay_text(api: httpx.AsyncClient) -> None:
    _, token = await register(api)
    stem = unique("b")
    caption = " ".join(f"#{stem}{i}" for i in range(MAX_TAGS + 3))
    post = await publish(api, token, caption, tags="first")
    assert post["tags"] == ["first", *(f"{stem}{i}" for i in range(MAX_TAGS - 1))]
    assert post["caption"] == caption  # the rest stays in the text, as text


async def test_mentions_in_a_caption_and_a_comment_notify_and_deletions_retract(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    author_name, ana_name, bob_name = unique("au"), unique("ana"), unique("bob")
    author, author_token = await register(api, author_name)
    ana, ana_token = await register(api, ana_name)
    bob, bob_token = await register(api, bob_name)
    caption = f"with @{ana_name.upper()}, @{unique('nobody')} and me @{author_name}."
    post = await publish(api, author_token, caption)
    start = caption.index("@")
    me = caption.index("@" + author_name)
    assert shown(post["mentions"]) == [
        (ana, ana_name.upper(), start, start + 1 + len(ana_name)),  # as typed
        (author, author_name, me, me + 1 + len(author_name)),  # yourself: shown, not told
    ]
    pid = post["post_id"]
    told = await eventually(lambda: notices(api, ana_token, "mention"), bool)
    assert [(n["post_id"], [a["user_id"] for a in n["actors"]]) for n in told] == [(pid, [author])]
    assert "comment_id" not in told[0]
    assert await notices(api, author_token, "mention") == []

    text = f"@{ana_name} look! cc @{bob_name}"
    comment = await ok(api, "POST", f"/posts/{pid}/comments", bob_token, json={"text": text})
    assert shown(comment["mentions"]) == [
        (ana, ana_name, 0, 1 + len(ana_name)),
        (bob, bob_name, text.index("@" + bob_name), len(text)),
    ]
    page = await eventually(lambda: ok(api, "GET", f"/posts/{pid}/comments", None),
                            lambda b: len(b["comments"]) == 1)  # fmt: skip
    assert page["comments"][0]["mentions"] == comment["mentions"]
    in_comment = await eventually(lambda: notices(api, ana_token, "mention"),
                                  lambda ns: len(ns) == 2)  # fmt: skip
    newest = in_comment[0]
    assert (newest["post_id"], newest["comment_id"], newest["text"]) == (
        pid, comment["comment_id"], text)  # fmt: skip
    assert await notices(api, bob_token, "mention") == []  # bob named himself

    async with in_process_gateway(settings) as (client, deps):  # one call = the group readers

        async def pages() -> list[Any]:
            paths = [(f"/posts/{pid}", None), (f"/posts/{pid}/comments", None),
                     ("/notifications", ana_token),
                     (f"/users/{author}/posts", ana_token)]  # fmt: skip
            return [(await client.get(p, headers=bearer(t) if t else {})).json()
                    for p, t in paths]  # fmt: skip

        one_call = await pages()
        deps.pages_at = lambda *_: None
        deps._adapters.clear()
        assert one_call == await pages()

    await ok(api, "DELETE", f"/comments/{comment['comment_id']}", author_token)
    left = await eventually(lambda: notices(api, ana_token, "mention"), lambda ns: len(ns) == 1)
    assert "comment_id" not in left[0]
    await ok(api, "DELETE", f"/posts/{pid}", author_token)
    assert await eventually(lambda: notices(api, ana_token, "mention"), lambda ns: ns == []) == []


async def test_names_past_the_bound_stay_text(api: httpx.AsyncClient) -> None:
    ana_name = unique("ana")
    await register(api, ana_name)
    _, token = await register(api)
    strangers = " ".join(f"@{unique('x')}" for _ in range(MAX_MENTIONS))
    post = await publish(api, token, f"{strangers} @{ana_name}")  # ana is the 21st name
    assert post["mentions"] == []
    assert post["caption"].endswith(f"@{ana_name}")


async def test_replay_equals_live_and_erasing_the_author_takes_their_tags_along(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    author_name, fan_name = unique("au"), unique("fan")
    author, token = await register(api, author_name)
    _, fan_token = await register(api, fan_name)
    tag = unique("erase")
    kept = await publish(api, fan_token, f"#{tag} by the fan, for @{author_name}")
    mine = await publish(api, token, f"#{tag} @{fan_name} one")
    gone = await publish(api, token, f"#{tag} @{fan_name} two")
    await ok(api, "DELETE", f"/posts/{gone['post_id']}", token)
    note = await ok(api, "POST", f"/posts/{kept['post_id']}/comments", token,
                    json={"text": f"thanks @{fan_name}"})  # fmt: skip
    await ok(api, "POST", f"/posts/{mine['post_id']}/comments", fan_token,
             json={"text": f"@{author_name} nice"})  # fmt: skip
    await eventually(lambda: tag_page(api, tag),
                     lambda ids: ids == [mine["post_id"], kept["post_id"]])  # fmt: skip
    await eventually(lambda: notices(api, fan_token, "mention"), lambda ns: len(ns) == 2)

    for group in (Group.FEEDS, Group.ENGAGEMENT):  # tags and mentions replay to what live built
        result = await replay_group(settings, group)
        assert (result.differences, result.swapped) == (0, True), (group, result.sample)

    r = await api.request("DELETE", "/users/me", json={"password": "correct horse"},
                          headers=bearer(token))  # fmt: skip
    assert r.status_code == 202, r.text
    stores = make_stores(settings)
    try:
        flow = erasure_workflow(settings, stores)
        await eventually(lambda: flow.status(int(author)), lambda s: s.complete,
                         timeout_s=ERASURE_TIMEOUT_S)  # fmt: skip
    finally:
        await stores.redis.aclose()
    assert await tag_page(api, tag) == [kept["post_id"]]
    assert await notices(api, fan_token, "mention") == []  # what the author's texts told
    post = await ok(api, "GET", f"/posts/{kept['post_id']}", None)
    assert post["mentions"] == []  # the erased author's name is plain text now
    assert note["comment_id"] not in str(
        await ok(api, "GET", f"/posts/{kept['post_id']}/comments", None)
    )

    for group in (Group.FEEDS, Group.ENGAGEMENT):  # and after the erasure, still
        result = await replay_group(settings, group)
        assert (result.differences, result.swapped) == (0, True), (group, result.sample)
    assert await tag_page(api, tag) == [kept["post_id"]]
