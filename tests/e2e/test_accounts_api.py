"""Accounts and the follow graph over HTTP, against the real gateway, worker and stack."""

from __future__ import annotations

import time

import httpx
import pytest

from infra.settings import Settings
from infra.topics import FOLLOWS, USERS
from tests.fixtures import bearer, count_records, eventually, register, unique

pytestmark = pytest.mark.stack


async def profile(api: httpx.AsyncClient, user_id: str, token: str | None = None) -> httpx.Response:
    return await api.get(f"/users/{user_id}", headers=bearer(token) if token else {})


async def test_register_login_follow_unfollow_counts(api: httpx.AsyncClient) -> None:
    ana, ana_token = await register(api)
    bob, _ = await register(api)
    cid, cid_token = await register(api)

    assert (await api.post(f"/follow/{bob}", headers=bearer(ana_token))).status_code == 204
    assert (await api.post(f"/follow/{bob}", headers=bearer(cid_token))).status_code == 204
    assert (await api.post(f"/follow/{cid}", headers=bearer(ana_token))).status_code == 204

    async def bob_profile() -> dict[str, object]:
        r = await profile(api, bob, ana_token)
        return r.json() if r.status_code == 200 else {}

    seen = await eventually(bob_profile, lambda p: p.get("follower_count") == 2, timeout_s=5)
    assert seen["following_count"] == 0
    assert seen["followed_by_viewer"] is True
    ana_profile = await eventually(
        lambda: profile(api, ana), lambda r: r.json().get("following_count") == 2
    )
    assert ana_profile.json()["follower_count"] == 0

    assert (await api.delete(f"/follow/{bob}", headers=bearer(ana_token))).status_code == 204
    assert (await api.delete(f"/follow/{bob}", headers=bearer(ana_token))).status_code == 204
    after = await eventually(bob_profile, lambda p: p.get("follower_count") == 1)
    assert after["followed_by_viewer"] is False

    followers = (await api.get(f"/users/{bob}/followers")).json()
    assert [u["user_id"] for u in followers["users"]] == [cid]
    assert followers["has_more"] is False
    assert followers["next_cursor"] is None


async def test_follow_visible_within_two_seconds(api: httpx.AsyncClient) -> None:
    _, token = await register(api)
    star, _ = await register(api)
    started = time.monotonic()
    assert (await api.post(f"/follow/{star}", headers=bearer(token))).status_code == 204
    await eventually(
        lambda: profile(api, star), lambda r: r.json().get("follower_count") == 1, timeout_s=2
    )
    assert time.monotonic() - started < 2


async def test_follower_pages_are_newest_first_without_gaps(api: httpx.AsyncClient) -> None:
    star, _ = await register(api)
    fans = [await register(api) for _ in range(7)]
    for _, token in fans:
        assert (await api.post(f"/follow/{star}", headers=bearer(token))).status_code == 204
    await eventually(
        lambda: profile(api, star), lambda r: r.json().get("follower_count") == 7, timeout_s=5
    )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"/users/{star}/followers", params=params)).json()
        seen += [u["user_id"] for u in page["users"]]
        assert page["has_more"] == (page["next_cursor"] is not None)
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
        # a new follower arriving between pages must not shift the pages that follow
        if len(seen) == 3:
            _, late_token = await register(api)
            await api.post(f"/follow/{star}", headers=bearer(late_token))
    assert seen == [fid for fid, _ in reversed(fans)]
    following = (await api.get(f"/users/{fans[0][0]}/following")).json()
    assert [u["user_id"] for u in following["users"]] == [star]


async def test_duplicate_username_is_409_and_case_insensitive(api: httpx.AsyncClient) -> None:
    name = unique()
    assert (
        await api.post("/users", json={"username": name, "password": "pw-12345"})
    ).status_code == 201
    again = await api.post("/users", json={"username": name.upper(), "password": "pw-99999"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "username_taken"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"username": 5, "password": "long enough"}', 422, "username"),
        (b'{"username": "okname", "password": 12345678}', 422, "password"),
        (b'{"password": "long enough"}', 422, "username: is required"),
        (b'{"username": "okname", "password": "short"}', 422, "password"),
        (b'{"username": "a", "password": "long enough"}', 422, "username"),
        (b'{"username": "bad name!", "password": "long enough"}', 422, "username"),
    ],
)
async def test_bad_registration_is_refused_and_writes_nothing(
    api: httpx.AsyncClient, settings: Settings, body: bytes, status: int, needle: str
) -> None:
    before = count_records(settings, USERS.name)
    r = await api.post("/users", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert needle in r.json()["error"]["message"]
    assert count_records(settings, USERS.name) == before


async def test_wrong_content_type_and_oversize_body(api: httpx.AsyncClient) -> None:
    r = await api.post("/users", content=b"username=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    big = b'{"username": "' + b"a" * 70_000 + b'", "password": "x"}'
    r = await api.post("/users", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_login_failures_are_401(api: httpx.AsyncClient) -> None:
    name = unique()
    await api.post("/users", json={"username": name, "password": "right password"})
    wrong = await api.post("/sessions", json={"username": name, "password": "wrong password"})
    assert wrong.status_code == 401
    nobody = await api.post("/sessions", json={"username": unique(), "password": "whatever1"})
    assert nobody.status_code == 401
    assert wrong.json() == nobody.json()  # no hint which part was wrong


async def test_follow_errors(api: httpx.AsyncClient, settings: Settings) -> None:
    me, token = await register(api)
    other, _ = await register(api)
    before = count_records(settings, FOLLOWS.name)

    anonymous = await api.post(f"/follow/{other}")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert (await api.post(f"/follow/{other}", headers=bearer(forged))).status_code == 401
    assert (
        await api.post(f"/follow/{other}", headers={"Authorization": "Basic x"})
    ).status_code == 401
    latin = {b"Authorization": "Bearer pf1.7.1750003600.\xe9".encode("latin-1")}
    assert (await api.post(f"/follow/{other}", headers=latin)).status_code == 401
    self_follow = await api.post(f"/follow/{me}", headers=bearer(token))
    assert self_follow.status_code == 422
    assert "yourself" in self_follow.json()["error"]["message"]
    assert (await api.post("/follow/123456789", headers=bearer(token))).status_code == 404
    assert (await api.post("/follow/not-an-id", headers=bearer(token))).status_code == 404
    assert count_records(settings, FOLLOWS.name) == before


async def test_expired_token_is_401(api: httpx.AsyncClient, settings: Settings) -> None:
    from gateway.tokens import TokenSigner

    other, _ = await register(api)
    me, _ = await register(api)
    signer = TokenSigner(settings.token_secret, ttl_s=1)
    expired, _ = signer.issue(int(me), now_s=int(time.time()) - 10)
    r = await api.post(f"/follow/{other}", headers=bearer(expired))
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]


async def test_unknown_user_and_bad_cursor(api: httpx.AsyncClient) -> None:
    assert (await api.get("/users/999999999")).status_code == 404
    assert (await api.get("/users/999999999/followers")).status_code == 404
    uid, _ = await register(api)
    await eventually(lambda: profile(api, uid), lambda r: r.status_code == 200)
    bad = await api.get(f"/users/{uid}/followers", params={"cursor": "%%%"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_cursor"
    assert (await api.get(f"/users/{uid}/followers", params={"limit": "0"})).status_code == 422
    assert (await api.get(f"/users/{uid}/followers", params={"limit": "101"})).status_code == 422


async def test_system_endpoints(gateway: str) -> None:
    root = gateway.removesuffix("/api/v1")
    async with httpx.AsyncClient(base_url=root) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        doc = (await client.get("/openapi.json")).json()
        assert doc["openapi"].startswith("3.")
        assert "post" in doc["paths"]["/follow/{user_id}"]
        await client.get("/api/v1/users/1")
        metrics = (await client.get("/metrics")).text
        assert (
            'photofeed_http_requests_total{method="GET",route="/api/v1/users/{user_id}",status="404"}'
            in metrics
        )
        missing = await client.get("/api/v1/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        wrong = await client.put("/api/v1/users")
        assert wrong.status_code == 405
