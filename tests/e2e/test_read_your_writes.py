"""Read-your-writes over HTTP: a read sending back the Photofeed-Position of a write sees that
write at once (no polling), through the real gateway, Tansu and worker; a position the
projections never reach answers `stale` after the bound; a malformed one is 400."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest

from gateway.consistency import HEADER, VERDICT
from infra.kafka import KafkaEventLog
from infra.positions import LogPosition, decode_token, encode_token
from infra.settings import Settings
from infra.topics import FOLLOWS
from tests import samples
from tests.fixtures import bearer, eventually, register, unique
from tests.integration.helpers import published

pytestmark = pytest.mark.stack
ROUNDS = 3  # each check runs this often: it must hold every time, not by luck


def at(token: str, position: str) -> dict[str, str]:
    return {**bearer(token), HEADER: position}


def position_of(r: httpx.Response) -> str:
    assert r.status_code < 300, r.text
    assert HEADER in r.headers, f"no {HEADER} on {r.request.method} {r.request.url}"
    return r.headers[HEADER]


def applied(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers[VERDICT] == "applied", r.headers
    body: dict[str, Any] = r.json()
    return body


async def new_post(
    api: httpx.AsyncClient, event_log: KafkaEventLog, author: str
) -> tuple[int, str]:
    """A post appended straight to the log, and the token of that append: the read path
    honours positions of events that no gateway wrote too."""
    post = published(author, "read your writes")
    return post.post_id, encode_token(await event_log.append(post))


async def test_a_follow_and_an_unfollow_are_seen_by_the_next_read(api: httpx.AsyncClient) -> None:
    me, my_token = await register(api)
    for _ in range(ROUNDS):
        # the star's registration is someone else's write: the follow carries its token (as a
        # client that saw the star's profile would), so its answer covers both
        created = await api.post("/users", json={"username": unique(), "password": "x" * 12})
        star = created.json()["user_id"]
        follow = await api.post(f"/follow/{star}", headers=at(my_token, position_of(created)))
        profile = applied(
            await api.get(f"/users/{star}", headers=at(my_token, position_of(follow)))
        )
        assert profile["follower_count"] == 1
        assert profile["followed_by_viewer"] is True
        mine = applied(
            await api.get(f"/users/{star}/followers", headers=at(my_token, position_of(follow)))
        )
        assert [u["user_id"] for u in mine["users"]] == [me]

        unfollow = await api.delete(f"/follow/{star}", headers=bearer(my_token))
        profile = applied(
            await api.get(f"/users/{star}", headers=at(my_token, position_of(unfollow)))
        )
        assert profile["follower_count"] == 0
        assert profile["followed_by_viewer"] is False


async def test_a_like_and_a_comment_are_seen_by_the_next_read(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, _ = await register(api)
    _, fan_token = await register(api)
    for i in range(ROUNDS):
        post, post_position = await new_post(api, event_log, author)
        like = await api.post(f"/likes/{post}", headers=at(fan_token, post_position))
        seen = applied(await api.get(f"/posts/{post}", headers=at(fan_token, position_of(like))))
        assert (seen["like_count"], seen["liked_by_viewer"]) == (1, True)

        comment = await api.post(
            f"/posts/{post}/comments",
            json={"text": f"first {i}"},
            headers=at(fan_token, position_of(like)),
        )
        assert comment.status_code == 201, comment.text
        position = position_of(comment)
        assert {p[:2] for p in decode_token(position_of(like))} <= {
            p[:2] for p in decode_token(position)
        }
        page = applied(await api.get(f"/posts/{post}/comments", headers=at(fan_token, position)))
        assert [c["comment_id"] for c in page["comments"]] == [comment.json()["comment_id"]]
        seen = applied(await api.get(f"/posts/{post}", headers=at(fan_token, position)))
        assert (seen["like_count"], seen["comment_count"]) == (1, 1)  # the like's token merged in


async def test_a_post_is_found_by_search_on_the_next_read(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, token = await register(api)
    for _ in range(ROUNDS):
        word = f"ryw{random.randrange(10**12)}"
        post = published(author, f"a {word} caption")
        position = encode_token(await event_log.append(post))
        hits = applied(await api.get("/search", params={"q": word}, headers=at(token, position)))
        assert [p["post_id"] for p in hits["posts"]] == [str(post.post_id)]


async def test_a_published_upload_is_in_the_authors_grid_on_the_next_read(
    api: httpx.AsyncClient,
) -> None:
    me, token = await register(api)
    data = samples.jpeg(samples.scene(320, 240, seed=random.randrange(10**9)))
    sent = await api.post(
        "/photos", headers=bearer(token), files={"photo": ("p.jpg", data, "image/jpeg")}
    )
    assert sent.status_code == 202, sent.text
    photo_id, position = sent.json()["photo_id"], position_of(sent)

    async def status() -> httpx.Response:
        return await api.get(f"/photos/{photo_id}/status", headers=at(token, position))

    done = await eventually(status, lambda r: r.json()["status"] != "processing", timeout_s=30)
    assert done.json()["status"] == "published", done.text
    settled = position_of(done)  # the media agent's events, merged with the upload's
    assert {p.topic for p in decode_token(settled)} >= {"photofeed.photos", "photofeed.posts"}
    grid = applied(await api.get(f"/users/{me}/posts", headers=at(token, settled)))
    assert [p["post_id"] for p in grid["posts"]] == [done.json()["post_id"]]


async def test_a_keyed_retry_answers_the_first_attempts_position(api: httpx.AsyncClient) -> None:
    author, token = await register(api)
    keyed = {**bearer(token), "Idempotency-Key": f"ryw-{author}"}
    photo = {"photo": ("p.jpg", samples.jpeg(samples.scene(64, 48)), "image/jpeg")}
    first = await api.post("/photos", headers=keyed, files=photo)
    again = await api.post("/photos", headers=keyed, files=photo)
    assert again.headers.get("Idempotent-Replayed") == "true", again.headers
    assert position_of(again) == position_of(first)


async def test_a_position_the_projections_never_reach_answers_stale_after_the_bound(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    user, token = await register(api)
    future = encode_token([LogPosition(FOLLOWS.name, 0, 10**12)])
    started = time.monotonic()
    r = await api.get(f"/users/{user}", headers=at(token, future))
    waited = time.monotonic() - started
    assert r.status_code == 200, r.text  # what the projections have, all the same
    assert r.headers[VERDICT] == "stale"
    assert r.json()["user_id"] == user
    assert settings.consistency_wait_s <= waited < settings.consistency_wait_s + 1.5

    unread = await api.get(f"/users/{user}", headers=bearer(token))  # no token: no wait, no verdict
    assert unread.status_code == 200
    assert VERDICT not in unread.headers

    other, _ = await register(api)  # a write merges the sent position into its answer
    follow = await api.post(f"/follow/{other}", headers=at(token, future))
    assert LogPosition(FOLLOWS.name, 0, 10**12) in decode_token(position_of(follow))

    real = position_of(await api.post(f"/follow/{user}", headers=bearer((await register(api))[1])))
    gone = await api.get("/posts/1", headers=at(token, real))  # an error says it is no lag
    assert gone.status_code == 404
    assert gone.headers[VERDICT] == "applied"


@pytest.mark.parametrize("bad", ["not a token", "Zm9v", encode_token([]) + "!", "MnxwaG90b2ZlZWQ"])
async def test_a_malformed_position_is_refused_before_anything_runs(
    api: httpx.AsyncClient, bad: str
) -> None:
    user, token = await register(api)
    for r in (
        await api.get(f"/users/{user}", headers={HEADER: bad}),
        await api.post(f"/follow/{user}x", headers=at(token, bad)),  # before the route's 404
    ):
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_position"
