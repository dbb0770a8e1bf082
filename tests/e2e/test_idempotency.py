"""Idempotency-Key over HTTP on the shared stack: a retried command answers its first answer and
appends nothing new; the same key with another body is 422. Outage retries: test_outages.py."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from infra.kafka import KafkaEventLog
from infra.settings import Settings
from infra.topics import ENGAGEMENT, PHOTOS, USERS
from replay.reader import LogReader
from schemas import events as ev
from schemas.codec import default_codec
from tests import samples
from tests.e2e.test_engagement_api import live_post
from tests.fixtures import bearer, eventually, register, unique

pytestmark = pytest.mark.stack


def logged(settings: Settings, topic: str, kind: type[ev.Event]) -> list[Any]:
    """Every event of `kind` in `topic` right now."""
    codec = default_codec()
    return [
        e for batch in LogReader(settings.bootstrap, [topic]).batches() for r in batch
        if isinstance(e := codec.decode(r.value), kind)
    ]  # fmt: skip


def keyed(token: str | None, key: str) -> dict[str, str]:
    return {**(bearer(token) if token else {}), "Idempotency-Key": key}


async def comments(api: httpx.AsyncClient, post: int) -> list[dict[str, Any]]:
    r = await api.get(f"/posts/{post}/comments")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["comments"]
    return found


async def test_a_comment_sent_twice_with_one_key_is_one_comment(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    author, _ = await register(api)
    _, fan = await register(api)
    post = await live_post(api, event_log, author)
    key = str(uuid.uuid4())
    first = await api.post(f"/posts/{post}/comments", json={"text": "wow"}, headers=keyed(fan, key))
    again = await api.post(f"/posts/{post}/comments", json={"text": "wow"}, headers=keyed(fan, key))
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    comment_id = int(first.json()["comment_id"])
    added = [e for e in logged(settings, ENGAGEMENT.name, ev.CommentAdded) if e.post_id == post]
    assert [e.comment_id for e in added] == [comment_id]  # appended once

    other = await api.post(f"/posts/{post}/comments", json={"text": "WOW"}, headers=keyed(fan, key))
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"

    _, stranger = await register(api)  # keys are per caller: the same key is another command
    theirs = await api.post(
        f"/posts/{post}/comments", json={"text": "wow"}, headers=keyed(stranger, key)
    )
    assert theirs.status_code == 201
    assert theirs.json()["comment_id"] != str(comment_id)
    seen = await eventually(lambda: comments(api, post), lambda c: len(c) == 2)
    both = sorted([str(comment_id), theirs.json()["comment_id"]])
    assert sorted(c["comment_id"] for c in seen) == both


async def test_without_a_key_a_repeated_comment_is_two_comments(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, _ = await register(api)
    _, fan = await register(api)
    post = await live_post(api, event_log, author)
    one = await api.post(f"/posts/{post}/comments", json={"text": "hi"}, headers=bearer(fan))
    two = await api.post(f"/posts/{post}/comments", json={"text": "hi"}, headers=bearer(fan))
    assert one.json()["comment_id"] != two.json()["comment_id"]


async def test_a_retried_registration_is_one_account(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    name, key = unique(), str(uuid.uuid4())
    body = {"username": name, "password": "correct horse"}
    first = await api.post("/users", json=body, headers=keyed(None, key))
    again = await api.post("/users", json=dict(reversed(body.items())), headers=keyed(None, key))
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()  # the same object, however its keys are ordered
    assert again.headers["idempotent-replayed"] == "true"
    mine = [e for e in logged(settings, USERS.name, ev.UserRegistered)
            if e.actor_id == int(first.json()["user_id"])]  # fmt: skip
    assert len(mine) == 1

    wrong = await api.post("/users", json={**body, "password": "other horse"},
                           headers=keyed(None, key))  # fmt: skip
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "idempotency_key_reused")

    fresh = str(uuid.uuid4())  # a 4xx changed nothing, so its key is free again
    taken = await api.post("/users", json=body, headers=keyed(None, fresh))
    assert taken.status_code == 409
    other = await api.post(
        "/users", json={**body, "username": unique()}, headers=keyed(None, fresh)
    )
    assert other.status_code == 201


async def test_uploads_retried_with_a_key_start_and_complete_once(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await register(api)
    data = samples.png(samples.quadrants(120, 80))
    ticket = {"filename": "p.png", "content_type": "image/png", "size_bytes": len(data)}
    key = str(uuid.uuid4())
    one = await api.post("/photos", json=ticket, headers=keyed(token, key))
    two = await api.post("/photos", json=ticket, headers=keyed(token, key))
    assert one.status_code == two.status_code == 200, (one.text, two.text)
    assert one.json() == two.json()
    photo = one.json()["photo_id"]
    async with httpx.AsyncClient() as s3:
        put = await s3.put(one.json()["upload_url"], content=data,
                           headers=one.json()["upload_headers"])  # fmt: skip
        assert put.status_code == 200, put.text
    done_key = str(uuid.uuid4())
    done = [await api.post(f"/photos/{photo}/complete", headers=keyed(token, done_key))
            for _ in range(2)]  # fmt: skip
    assert [d.status_code for d in done] == [202, 202]
    assert done[1].headers["idempotent-replayed"] == "true"

    direct_key = str(uuid.uuid4())
    form = {"files": {"photo": ("small.png", data, "image/png")}, "data": {"caption": "tiny"}}
    direct = [
        await api.post("/photos", headers=keyed(token, direct_key), **form)  # type: ignore[arg-type]
        for _ in range(2)
    ]  # fmt: skip  (httpx draws a new multipart boundary each time)
    assert [d.status_code for d in direct] == [202, 202], direct[0].text
    assert direct[0].json() == direct[1].json()
    direct_photo = direct[0].json()["photo_id"]
    uploads = [e.photo_id for e in logged(settings, PHOTOS.name, ev.PhotoUploaded)]
    assert uploads.count(int(photo)) == 1
    assert uploads.count(int(direct_photo)) == 1


async def test_a_malformed_key_is_400_and_anonymous_keyed_commands_are_401(
    api: httpx.AsyncClient, event_log: KafkaEventLog
) -> None:
    author, token = await register(api)
    post = await live_post(api, event_log, author)
    bad = await api.post(f"/posts/{post}/comments", json={"text": "x"},
                         headers=keyed(token, "not a key"))  # fmt: skip
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_idempotency_key")
    anon = await api.post(f"/posts/{post}/comments", json={"text": "x"}, headers=keyed(None, "k"))
    assert anon.status_code == 401
