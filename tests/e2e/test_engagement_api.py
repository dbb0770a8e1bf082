"""Likes, comments and notifications over HTTP, through Tansu and the real worker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from infra.kafka import KafkaEventLog
from schemas import events as ev
from tests.fixtures import bearer, eventually, register
from tests.integration.helpers import IDS, now, published

pytestmark = pytest.mark.stack


async def post_json(api: httpx.AsyncClient, post_id: int, token: str | None = None) -> Any:
    r = await api.get(f"/posts/{post_id}", headers=bearer(token) if token else {})
    return r.json() if r.status_code == 200 else None


async def notifications(api: httpx.AsyncClient, token: str, **params: Any) -> dict[str, Any]:
    r = await api.get("/notifications", params=params, headers=bearer(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def live_post(api: httpx.AsyncClient, event_log: KafkaEventLog, author: str) -> int:
    post = published(author, "engaging")
    await event_log.append(post)
    await eventually(lambda: post_json(api, post.post_id), lambda p: p is not None)
    return post.post_id


async def test_likes_are_idempotent_counted_and_retracted(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, author_token = await register(api)
    fan, fan_token = await register(api)
    other, other_token = await register(api)
    post = await live_post(api, event_log, author)
    for token in (fan_token, fan_token, other_token, author_token):
        assert (await api.post(f"/likes/{post}", headers=bearer(token))).status_code == 204
    seen = await eventually(lambda: post_json(api, post, fan_token),
                            lambda p: p["like_count"] == 3)  # fmt: skip
    assert seen["liked_by_viewer"] is True
    assert (await post_json(api, post))["liked_by_viewer"] is False  # anonymous

    [note] = (await notifications(api, author_token))["notifications"]
    assert note["type"] == "like"
    assert note["post_id"] == str(post)
    assert note["actor_count"] == 2  # the author's own like notifies nobody
    assert {a["user_id"] for a in note["actors"]} == {fan, other}
    assert note["read"] is False

    assert (await api.delete(f"/likes/{post}", headers=bearer(other_token))).status_code == 204
    assert (await api.delete(f"/likes/{post}", headers=bearer(other_token))).status_code == 204
    await eventually(lambda: post_json(api, post, other_token),
                     lambda p: (p["like_count"], p["liked_by_viewer"]) == (2, False))  # fmt: skip
    [note] = (await notifications(api, author_token))["notifications"]
    assert [a["user_id"] for a in note["actors"]] == [fan]


async def test_the_same_like_event_delivered_three_times_counts_once(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, _ = await register(api)
    fan, _ = await register(api)
    post = await live_post(api, event_log, author)
    like = ev.PostLiked(event_id=IDS.next_id(), occurred_at=now(), actor_id=int(fan),
                        post_id=post, author_id=int(author))  # fmt: skip
    for _ in range(3):
        await event_log.append(like)
    # a marker on the same post (the same partition) is applied after the three copies: once
    # it shows, they have been applied, and counted once
    second, second_token = await register(api)
    marker = ev.PostLiked(event_id=IDS.next_id(), occurred_at=now(), actor_id=int(second),
                          post_id=post, author_id=int(author))  # fmt: skip
    await event_log.append(marker)
    seen = await eventually(lambda: post_json(api, post, second_token),
                            lambda p: p["liked_by_viewer"])  # fmt: skip
    assert seen["like_count"] == 2  # the fan once, the marker once


async def test_likes_of_unknown_or_deleted_posts_and_anonymous_callers(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, author_token = await register(api)
    _, token = await register(api)
    assert (await api.post("/likes/123456789", headers=bearer(token))).status_code == 404
    assert (await api.post("/likes/not-an-id", headers=bearer(token))).status_code == 404
    post = await live_post(api, event_log, author)
    assert (await api.post(f"/likes/{post}")).status_code == 401
    assert (await api.delete(f"/posts/{post}", headers=bearer(author_token))).status_code == 204
    await eventually(lambda: post_json(api, post), lambda p: p is None)
    r = await api.post(f"/likes/{post}", headers=bearer(token))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    comment = await api.post(f"/posts/{post}/comments", json={"text": "hi"}, headers=bearer(token))
    assert comment.status_code == 404


async def comments(api: httpx.AsyncClient, post: int, **params: Any) -> dict[str, Any]:
    r = await api.get(f"/posts/{post}/comments", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_comments_create_page_and_delete_rules(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, author_token = await register(api)
    commenter, commenter_token = await register(api)
    _, stranger_token = await register(api)
    post = await live_post(api, event_log, author)
    created = []
    for i in range(5):
        r = await api.post(f"/posts/{post}/comments", json={"text": f"  comment {i} "},
                           headers=bearer(commenter_token))  # fmt: skip
        assert r.status_code == 201, r.text
        created.append(r.json())
    assert created[0]["text"] == "comment 0"
    assert created[0]["user"]["user_id"] == commenter
    await eventually(lambda: comments(api, post, limit=100), lambda b: len(b["comments"]) == 5)

    seen, cursor = [], None
    while True:
        page = await comments(api, post, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [c["comment_id"] for c in page["comments"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == [c["comment_id"] for c in created]  # oldest first
    assert (await post_json(api, post))["comment_count"] == 5

    first, second = created[0]["comment_id"], created[1]["comment_id"]
    r = await api.delete(f"/comments/{first}", headers=bearer(stranger_token))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    assert (
        await api.delete(f"/comments/{first}", headers=bearer(commenter_token))
    ).status_code == 204
    assert (
        await api.delete(f"/comments/{second}", headers=bearer(author_token))
    ).status_code == 204
    await eventually(lambda: post_json(api, post), lambda p: p["comment_count"] == 3)
    assert first not in [c["comment_id"] for c in (await comments(api, post))["comments"]]
    assert (await api.delete(f"/comments/{first}", headers=bearer(author_token))).status_code == 404

    notes = (await notifications(api, author_token))["notifications"]
    assert sorted(n["comment_id"] for n in notes) == sorted(c["comment_id"] for c in created[2:])
    assert {n["text"] for n in notes} == {"comment 2", "comment 3", "comment 4"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ""}, 422, "invalid_field"),
        ({"text": "   \n "}, 422, "invalid_field"),
        ({"text": "x" * 2201}, 422, "invalid_field"),
        ({"text": 42}, 422, "invalid_field"),
        ({}, 422, "invalid_field"),
        (b"{not json", 400, "malformed_json"),
    ],
)
async def test_bad_comments_are_refused_and_append_nothing(
    api: httpx.AsyncClient, event_log: KafkaEventLog, body: Any, status: int, code: str
) -> None:
    author, _ = await register(api)
    _, token = await register(api)
    post = await live_post(api, event_log, author)
    if isinstance(body, bytes):
        headers = {**bearer(token), "content-type": "application/json"}
        r = await api.post(f"/posts/{post}/comments", content=body, headers=headers)
    else:
        r = await api.post(f"/posts/{post}/comments", json=body, headers=bearer(token))
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    ok = await api.post(f"/posts/{post}/comments", json={"text": "x" * 2200}, headers=bearer(token))
    assert ok.status_code == 201
    page = await eventually(lambda: comments(api, post), lambda b: len(b["comments"]) >= 1)
    assert [len(c["text"]) for c in page["comments"]] == [2200]  # the refused one left no trace


async def test_follow_notifications_group_mark_read_and_page(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    star, star_token = await register(api)
    fans = [await register(api) for _ in range(3)]
    for _, token in fans:
        assert (await api.post(f"/follow/{star}", headers=bearer(token))).status_code == 204
    follows = await eventually(
        lambda: notifications(api, star_token),
        lambda b: len(b["notifications"]) == 1 and b["notifications"][0]["actor_count"] == 3
        and len(b["notifications"][0]["actors"]) == 3,  # the actors' profiles projected too
    )  # fmt: skip
    [note] = follows["notifications"]
    assert note["type"] == "follow"
    assert "post_id" not in note
    assert len(note["actors"]) == 3

    assert (await api.delete(f"/follow/{star}", headers=bearer(fans[0][1]))).status_code == 204
    await eventually(lambda: notifications(api, star_token),
                     lambda b: b["notifications"][0]["actor_count"] == 2)  # fmt: skip

    posts = [await live_post(api, event_log, star) for _ in range(3)]
    for post in posts:
        assert (await api.post(f"/likes/{post}", headers=bearer(fans[1][1]))).status_code == 204
    await eventually(lambda: notifications(api, star_token), lambda b: len(b["notifications"]) == 4)

    seen, cursor = [], None
    while True:
        page = await notifications(
            api, star_token, limit=3, **({"cursor": cursor} if cursor else {})
        )
        seen += [n["notification_id"] for n in page["notifications"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 4

    newest_like = (await notifications(api, star_token, limit=1))["notifications"][0]
    r = await api.post("/notifications/read", json={"up_to_id": newest_like["notification_id"]},
                       headers=bearer(star_token))  # fmt: skip
    assert r.status_code == 204
    await eventually(lambda: notifications(api, star_token),
                     lambda b: all(n["read"] for n in b["notifications"]))  # fmt: skip
    assert (await api.post(f"/likes/{posts[0]}", headers=bearer(fans[2][1]))).status_code == 204
    fresh = await eventually(lambda: notifications(api, star_token, limit=1),
                             lambda b: b["notifications"][0]["actor_count"] == 2)  # fmt: skip
    assert fresh["notifications"][0]["read"] is False
    assert (await api.post("/notifications/read", headers=bearer(star_token))).status_code == 204
    await eventually(lambda: notifications(api, star_token),
                     lambda b: all(n["read"] for n in b["notifications"]))  # fmt: skip

    r = await api.post("/notifications/read", json={"up_to_id": 5}, headers=bearer(star_token))
    assert r.status_code == 422
    r = await api.get("/notifications", params={"cursor": "bm9wZQ"}, headers=bearer(star_token))
    assert r.status_code == 400
    assert (await api.get("/notifications")).status_code == 401


async def test_deleting_a_post_retracts_its_notifications(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, author_token = await register(api)
    _, fan_token = await register(api)
    post = await live_post(api, event_log, author)
    assert (await api.post(f"/likes/{post}", headers=bearer(fan_token))).status_code == 204
    r = await api.post(f"/posts/{post}/comments", json={"text": "wow"}, headers=bearer(fan_token))
    assert r.status_code == 201
    await eventually(
        lambda: notifications(api, author_token), lambda b: len(b["notifications"]) == 2
    )
    assert (await api.delete(f"/posts/{post}", headers=bearer(author_token))).status_code == 204
    await eventually(lambda: notifications(api, author_token), lambda b: b["notifications"] == [])


async def test_feed_pages_carry_counts_and_the_viewers_likes(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, _ = await register(api)
    _, viewer_token = await register(api)
    assert (await api.post(f"/follow/{author}", headers=bearer(viewer_token))).status_code == 204
    await eventually(lambda: api.get(f"/users/{author}"),
                     lambda r: r.json().get("follower_count") == 1)  # fmt: skip
    first = await live_post(api, event_log, author)
    second = await live_post(api, event_log, author)
    assert (await api.post(f"/likes/{first}", headers=bearer(viewer_token))).status_code == 204

    async def feed() -> list[tuple[str, int, bool]]:
        r = await api.get("/feed", headers=bearer(viewer_token))
        return [(p["post_id"], p["like_count"], p["liked_by_viewer"]) for p in r.json()["posts"]]

    await eventually(feed, lambda f: f == [(str(second), 0, False), (str(first), 1, True)])
