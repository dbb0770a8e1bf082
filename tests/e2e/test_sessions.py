"""Sessions over HTTP on the real stack: tokens are revoked by erasure, a password change,
"log out everywhere" and "log out here"; an erased account's token is 401 on every route and
appends nothing; erasure and password changes need the password; changes are durable."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway.accounts import CHANGED_AT, PASSWORD_HASH, Account, RedisAccountStore
from gateway.app import API
from gateway.keys import AccountKeys, SessionKeys
from gateway.sessions import LiveActorsLog, RedisSessions
from gateway.tokens import TokenSigner
from infra.kafka import KafkaEventLog
from infra.keystore import ErasedUser
from infra.positions import LogPosition
from infra.settings import Settings
from infra.topics import CATALOGUE, DEAD_LETTER
from photofeed.bootstrap import erasure_workflow
from photofeed.stores import make_stores
from replay.reader import LogReader
from schemas import events as ev
from schemas.codec import DecodeError, default_codec
from tests.fixtures import bearer, eventually, register, unique
from tests.integration.helpers import IDS, followed, now, published

pytestmark = pytest.mark.stack
PASSWORD = "correct horse"  # tests.fixtures.register's
NEW_PASSWORD = "battery staple 42"


async def login(api: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await api.post("/sessions", json={"username": username, "password": password})


async def token_of(api: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    r = await login(api, username, password)
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def erase(api: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    return await api.request("DELETE", "/users/me", json=body, headers=bearer(token))


async def feed_status(api: httpx.AsyncClient, token: str) -> int:
    return (await api.get("/feed", headers=bearer(token))).status_code


def error_code(r: httpx.Response) -> str:
    code: str = r.json()["error"]["code"]
    return code


async def visible_post(api: httpx.AsyncClient, event_log: KafkaEventLog, author: str) -> int:
    post = published(author, "a post to act on")
    await event_log.append(post)
    await eventually(lambda: api.get(f"/posts/{post.post_id}"), lambda r: r.status_code == 200)
    return post.post_id


def events_by(settings: Settings, actor: str) -> list[ev.Event]:
    """Every event in the log whose actor is `actor` (key events by their actor or not)."""
    codec = default_codec()
    topics = [t.name for t in CATALOGUE if t.name != DEAD_LETTER.name]
    out = []
    for batch in LogReader(settings.bootstrap, topics).batches():
        for record in batch:
            try:
                event = codec.decode(record.value)
            except DecodeError:
                continue  # the poison-message tests' garbage
            if event.actor_id == int(actor):
                out.append(event)
    return sorted(out, key=lambda e: e.event_id)


async def test_erasure_needs_the_password(api: httpx.AsyncClient) -> None:
    name = unique()
    _, token = await register(api, name)
    missing: dict[str, str] | None
    for missing in ({}, None):  # no password, no body: the password is required
        r = await api.request("DELETE", "/users/me", json=missing, headers=bearer(token))
        assert (r.status_code, error_code(r)) == (422, "invalid_field"), r.text
        assert "password" in r.json()["error"]["message"]
    wrong = await erase(api, token, {"password": "not my password"})
    assert (wrong.status_code, error_code(wrong)) == (403, "wrong_password")
    assert await feed_status(api, token) == 200  # nothing happened
    assert (await login(api, name)).status_code == 200


async def test_an_erased_accounts_tokens_are_401_everywhere_and_append_nothing(
    api: httpx.AsyncClient, event_log: KafkaEventLog, settings: Settings
) -> None:
    name = unique("gone")
    victim, token = await register(api, name)
    other_session = await token_of(api, name)
    friend, friend_token = await register(api)
    post = await visible_post(api, event_log, friend)
    assert (await api.post(f"/follow/{friend}", headers=bearer(token))).status_code == 204
    r = await api.post(f"/posts/{post}/comments", json={"text": "hi"}, headers=bearer(token))
    comment = r.json()["comment_id"]

    erased = await erase(api, token, {"password": PASSWORD})
    assert (erased.status_code, erased.json()["status"]) == (202, "erasing")
    before = events_by(settings, victim)
    assert any(isinstance(e, ev.AccountErasureRequested) for e in before)
    ids = {"user_id": friend, "post_id": str(post), "photo_id": str(post), "comment_id": comment,
           "requester_id": friend, "tag": "sea"}  # fmt: skip
    tried = 0
    for method, path, _endpoint, _op in API:
        url = re.sub(r"\{(\w+)\}", lambda m: ids[m[1]], path)
        for t in (token, other_session):
            r = await api.request(method, url, headers=bearer(t), json={"text": "x"})
            assert (r.status_code, error_code(r)) == (401, "account_erased"), (method, url, r.text)
            tried += 1
    assert tried == 2 * len(API)
    assert (await login(api, name)).status_code == 401
    assert events_by(settings, victim) == before  # not one event of the erased account
    await erasure_done(settings, victim)  # the shared worker is idle again for other tests
    assert (await api.get(f"/users/{friend}", headers=bearer(friend_token))).status_code == 200


async def erasure_done(settings: Settings, user: str) -> None:
    stores = make_stores(settings)
    try:
        flow = erasure_workflow(settings, stores)
        await eventually(lambda: flow.status(int(user)), lambda s: s.complete, timeout_s=60,
                         interval_s=0.2)  # fmt: skip
    finally:
        await stores.redis.aclose()


class Recorder:
    def __init__(self) -> None:
        self.appended: list[ev.Event] = []

    async def append(self, *events: ev.Event) -> list[LogPosition]:
        self.appended += events
        return []  # where they were stored: not needed here


async def test_the_append_path_refuses_erasing_erased_and_unknown_actors(redis: Redis) -> None:
    accounts, inner = RedisAccountStore(redis), Recorder()
    log = LiveActorsLog(inner, RedisSessions(redis, lambda: 0.0))
    me, other = IDS.next_id(), IDS.next_id()
    assert await accounts.reserve(Account(me, unique("live"), "hash"))
    erasure = ev.AccountErasureRequested(event_id=IDS.next_id(), occurred_at=now(), actor_id=me)

    await log.append(followed(me, other))
    assert len(inner.appended) == 1
    assert await accounts.begin_erasure(me)
    with pytest.raises(ErasedUser):
        await log.append(followed(me, other))
    await log.append(erasure)  # its own erasure request is the one thing it may append
    await accounts.forget(me)
    for late in (followed(me, other), erasure, followed(other, me)):
        with pytest.raises(ErasedUser):
            await log.append(late)  # `other` never had an account
    assert [type(e) for e in inner.appended] == [ev.UserFollowed, ev.AccountErasureRequested]


async def test_a_password_change_is_durable_and_revokes_every_other_session(
    api: httpx.AsyncClient, redis: Redis
) -> None:
    name = unique("pw")
    user, first = await register(api, name)
    second = await token_of(api, name)
    key = AccountKeys.account(int(user))
    old_changed = int(await redis.hget(key, CHANGED_AT) or 0)
    old_hash = await redis.hget(key, PASSWORD_HASH)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    wrong = await api.post("/users/me/password", headers=bearer(first),
                           json={**change, "current_password": "not the password"})  # fmt: skip
    assert (wrong.status_code, error_code(wrong)) == (403, "wrong_password")
    found = (await redis.config_get("appendfsync"))["appendfsync"]
    policy = found.decode() if isinstance(found, bytes) else str(found)
    await redis.config_set("appendfsync", "no")  # Valkey cannot confirm an fsync now
    try:
        refused = await api.post("/users/me/password", json=change, headers=bearer(first))
    finally:
        await redis.config_set("appendfsync", policy)
    assert refused.status_code == 503, refused.text
    assert await redis.hget(key, PASSWORD_HASH) == old_hash  # undone: nothing happened
    assert [await feed_status(api, t) for t in (first, second)] == [200, 200]

    changed = await api.post("/users/me/password", json=change, headers=bearer(first))
    assert changed.status_code == 200, changed.text
    fresh = changed.json()["token"]
    assert changed.json()["user_id"] == user
    assert int(await redis.hget(key, CHANGED_AT) or 0) > old_changed
    assert await redis.hget(key, PASSWORD_HASH) != old_hash
    for stale in (first, second):
        r = await api.get("/feed", headers=bearer(stale))
        assert (r.status_code, error_code(r)) == (401, "session_revoked")
    assert await feed_status(api, fresh) == 200
    assert (await login(api, name)).status_code == 401
    assert (await login(api, name, NEW_PASSWORD)).status_code == 200


async def test_logging_out_here_revokes_only_this_token(
    api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    name = unique("out")
    user, here = await register(api, name)
    elsewhere = await token_of(api, name)
    assert (await api.delete("/sessions/current", headers=bearer(here))).status_code == 204
    r = await api.get("/feed", headers=bearer(here))
    assert (r.status_code, error_code(r)) == (401, "session_revoked")
    assert (await api.delete("/sessions/current", headers=bearer(here))).status_code == 401
    assert await feed_status(api, elsewhere) == 200
    claims = TokenSigner(settings.token_secret, settings.token_ttl_s).claims(here, 0)
    ttl = await redis.ttl(SessionKeys.revoked(int(user), claims.sid))
    assert 0 < ttl <= settings.token_ttl_s + 1  # kept as long as the token could be used


async def test_logging_out_everywhere_revokes_every_token(api: httpx.AsyncClient) -> None:
    name = unique("all")
    _, first = await register(api, name)
    second = await token_of(api, name)
    assert (await api.delete("/sessions", headers=bearer(second))).status_code == 204
    assert [await feed_status(api, t) for t in (first, second)] == [401, 401]
    assert await feed_status(api, await token_of(api, name)) == 200  # a new login works
