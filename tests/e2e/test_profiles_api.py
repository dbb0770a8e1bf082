"""Profiles and avatars end to end: PATCH /users/me -> ProfileUpdated (sealed) -> the graph
group -> every user object; an avatar upload (direct or presigned) -> the media agent's squares
on S3 -> UserAvatarChanged -> a real avatar_url; bad input refused; replay of the graph equal to
live; erasure leaves no avatar object and no profile field."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image
from redis.asyncio import Redis

from infra.processes import ManagedProcess
from infra.settings import Settings
from infra.topics import USERS
from photofeed.bootstrap import erasure_workflow, s3_store
from photofeed.replay_cli import replay_group
from photofeed.stores import make_stores
from projections.graph.keys import GraphKeys
from projections.graph.redis import RedisGraph
from projections.groups import Group
from projections.versions.redis import RedisVersions
from schemas.media import AVATAR_SIZES, avatar_key, original_key
from schemas.sealing import PREFIX
from tests import samples
from tests.e2e.test_account_erasure import raw_records
from tests.e2e.test_photos_api import fetch, final_status, presigned
from tests.fixtures import bearer, eventually, register

pytestmark = pytest.mark.stack
POSITION = "Photofeed-Position"
FIELDS = {"user_id", "username", "display_name", "avatar_url"}  # in every embedded user object


def with_position(token: str, position: str | None) -> dict[str, str]:
    return {**bearer(token), **({POSITION: position} if position else {})}


async def patch_me(api: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    return await api.patch("/users/me", json=body, headers=bearer(token))


async def upload_avatar(api: httpx.AsyncClient, token: str, data: bytes, ctype: str) -> str:
    sent = await api.post("/users/me/avatar", headers=bearer(token),
                          files={"photo": ("me.jpg", data, ctype)})  # fmt: skip
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "processing"
    photo_id: str = sent.json()["photo_id"]
    return photo_id


async def settled(api: httpx.AsyncClient, token: str, photo_id: str) -> tuple[dict[str, Any], str]:
    """The upload's final status and the read-your-writes token it hands out."""
    status = await final_status(api, token, photo_id)
    again = await api.get(f"/photos/{photo_id}/status", headers=bearer(token))
    return status, again.headers.get(POSITION, "")


async def test_a_patched_profile_is_read_back_at_once_everywhere(api: httpx.AsyncClient) -> None:
    ana, token = await register(api)
    fan, fan_token = await register(api)
    followed = await api.post(f"/follow/{ana}", headers=bearer(fan_token))
    r = await patch_me(api, token, {"display_name": "  Ana Lima ", "bio": "light chaser\nLisbon"})
    assert r.status_code == 204, r.text
    position = r.headers[POSITION]
    me = (await api.get(f"/users/{ana}", headers=with_position(token, position))).json()
    assert (me["display_name"], me["bio"]) == ("Ana Lima", "light chaser\nLisbon")
    assert (me["avatar_url"], me["avatar_urls"]) == (None, None)
    both = f"{followed.headers[POSITION]},{position}"  # tokens join with commas
    seen = await api.get(f"/users/{fan}/following", headers=with_position(fan_token, both))
    assert seen.json()["users"][0]["display_name"] == "Ana Lima"
    assert "bio" not in seen.json()["users"][0]  # the bio is the profile's alone
    # one field alone changes, "" clears it; an empty patch appends nothing
    r = await patch_me(api, token, {"bio": ""})
    assert r.status_code == 204
    me = (await api.get(f"/users/{ana}", headers=with_position(token, r.headers[POSITION]))).json()
    assert (me["display_name"], me["bio"]) == ("Ana Lima", None)
    r = await patch_me(api, token, {})
    assert r.status_code == 204
    assert POSITION not in r.headers


async def test_the_log_holds_the_profile_sealed(api: httpx.AsyncClient, settings: Settings) -> None:
    ana, token = await register(api)
    assert (
        await patch_me(api, token, {"display_name": "Zed Quux", "bio": "zqx"})
    ).status_code == 204
    rows = [r for r in raw_records(settings, USERS.name)
            if r.get("actor_id") == int(ana) and "bio" in r]  # fmt: skip
    assert len(rows) == 1
    assert rows[0]["display_name"].startswith(PREFIX)
    assert rows[0]["bio"].startswith(PREFIX)
    assert "Zed" not in rows[0]["display_name"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "x" * 51}, "display_name"),
        ({"display_name": "bell\x07"}, "display_name"),
        ({"bio": "y" * 301}, "bio"),
        ({"bio": "tab\there"}, "bio"),
        ({"bio": 3}, "bio"),
        ({"private": "yes"}, "private"),
        ({"display_name": "ok", "nickname": "x"}, "nickname"),
    ],
)
async def test_bad_profile_input_is_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    _, token = await register(api)
    r = await patch_me(api, token, body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_field"
    assert r.json()["error"]["message"].startswith(f"{field}: ")
    assert POSITION not in r.headers  # nothing was appended


async def test_profile_routes_need_a_session(api: httpx.AsyncClient) -> None:
    assert (await api.patch("/users/me", json={"bio": "x"})).status_code == 401
    assert (await api.delete("/users/me/avatar")).status_code == 401
    photo = samples.jpeg(samples.scene(64, 64))
    anon = await api.post("/users/me/avatar", files={"photo": ("a.jpg", photo, "image/jpeg")})
    assert anon.status_code == 401


async def test_an_avatar_upload_makes_three_squares_and_a_real_avatar_url(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    ana, token = await register(api)
    fan, fan_token = await register(api)
    assert (await api.post(f"/follow/{ana}", headers=bearer(fan_token))).status_code == 204
    data = samples.jpeg(samples.quadrants(1600, 1200), gps=True)
    photo_id = await upload_avatar(api, token, data, "image/jpeg")
    status, position = await settled(api, token, photo_id)
    assert status["status"] == "published", status
    assert status["post_id"] is None  # no post: an avatar
    assert set(status["urls"]) == {str(s) for s in AVATAR_SIZES}
    store = s3_store(settings)
    for size in AVATAR_SIZES:
        assert await store.stat(avatar_key(int(ana), int(photo_id), size)) is not None
        got = await fetch(status["urls"][str(size)])
        assert got.status_code == 200
        assert "immutable" in got.headers["cache-control"]
        img = Image.open(io.BytesIO(got.content))
        assert (img.format, img.size) == ("JPEG", (size, size))
        assert not img.getexif()
    assert position, "the status hands out the token of the avatar's events"
    me = (await api.get(f"/users/{ana}", headers=with_position(token, position))).json()
    assert me["avatar_url"] == status["urls"]["150"]
    assert me["avatar_urls"] == status["urls"]
    assert (await fetch(me["avatar_url"])).status_code == 200
    assert me["post_count"] == 0
    grid = (await api.get(f"/users/{ana}/posts", headers=with_position(token, position))).json()
    assert grid["posts"] == []
    followers = (await api.get(f"/users/{ana}/followers")).json()["users"]
    assert followers[0]["user_id"] == fan
    following = (await api.get(f"/users/{fan}/following")).json()["users"]
    assert following[0]["avatar_url"] == status["urls"]["150"]

    # the author object of the one-call pages (pages.lua) equals the one the routes build
    post = await upload_post(api, token)
    feed = await eventually(
        lambda: api.get("/feed", headers=bearer(fan_token)),
        lambda r: any(p["post_id"] == post for p in r.json()["posts"]),
    )
    author = next(p["user"] for p in feed.json()["posts"] if p["post_id"] == post)
    assert set(author) >= FIELDS
    # the same object as the routes assemble in Python (gateway/route_kit.py user_json)
    assert author == {k: v for k, v in following[0].items() if k != "followed_by_viewer"}
    assert author["avatar_url"] == me["avatar_url"]
    one = (await api.get(f"/posts/{post}")).json()["user"]
    assert one == author

    # removing it: null everywhere; the squares stay served for caches until erasure
    removed = await api.delete("/users/me/avatar", headers=bearer(token))
    assert removed.status_code == 204
    me = await api.get(f"/users/{ana}", headers=with_position(token, removed.headers[POSITION]))
    assert (me.json()["avatar_url"], me.json()["avatar_urls"]) == (None, None)
    page = await api.get(f"/posts/{post}", headers=with_position(token, removed.headers[POSITION]))
    assert page.json()["user"]["avatar_url"] is None


async def upload_post(api: httpx.AsyncClient, token: str) -> str:
    sent = await api.post("/photos", headers=bearer(token), data={"caption": "with an avatar"},
                          files={"photo": ("p.jpg", samples.jpeg(samples.scene(320, 240)),
                                           "image/jpeg")})  # fmt: skip
    assert sent.status_code == 202, sent.text
    status = await final_status(api, token, sent.json()["photo_id"])
    assert status["status"] == "published", status
    post_id: str = status["post_id"]
    return post_id


async def test_the_presigned_flow_takes_an_avatar_too(api: httpx.AsyncClient) -> None:
    ana, token = await register(api)
    data = samples.png(samples.quadrants(500, 400))
    ticket = await presigned(api, token, data, "image/png", purpose="avatar")
    async with httpx.AsyncClient() as s3:
        put = await s3.put(ticket["upload_url"], content=data, headers=ticket["upload_headers"])
        assert put.status_code == 200, put.text
    done = await api.post(f"/photos/{ticket['photo_id']}/complete", headers=bearer(token))
    assert done.status_code == 202, done.text
    status, position = await settled(api, token, ticket["photo_id"])
    assert status["status"] == "published", status
    me = (await api.get(f"/users/{ana}", headers=with_position(token, position))).json()
    assert me["avatar_url"] == status["urls"]["150"]
    assert me["post_count"] == 0
    ask = {"filename": "x", "content_type": "image/png", "size_bytes": 10, "purpose": "banner"}
    bad = await api.post("/photos", headers=bearer(token), json=ask)
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("purpose: ")


async def test_a_fake_image_is_rejected_with_a_reason_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    ana, token = await register(api)
    photo_id = await upload_avatar(api, token, b"%PDF-1.4 not an image at all", "image/png")
    status, _ = await settled(api, token, photo_id)
    assert (status["status"], status["reason_code"]) == ("rejected", "not_an_image")
    assert status["reason"]
    assert (await api.get(f"/users/{ana}")).json()["avatar_url"] is None


async def test_avatar_upload_contract_violations(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    _, token = await register(api)
    as_json = await api.post("/users/me/avatar", json={"photo": "x"}, headers=bearer(token))
    assert as_json.status_code == 415
    pdf = await api.post("/users/me/avatar", headers=bearer(token),
                         files={"photo": ("a.pdf", b"%PDF", "application/pdf")})  # fmt: skip
    assert pdf.status_code == 415
    empty = await api.post("/users/me/avatar", headers=bearer(token),
                           files={"photo": ("a.jpg", b"", "image/jpeg")})  # fmt: skip
    assert (empty.status_code, empty.json()["error"]["message"][:6]) == (422, "photo:")
    missing = await api.post("/users/me/avatar", headers=bearer(token), data={"caption": "x"},
                             files={"other": ("a.jpg", b"123", "image/jpeg")})  # fmt: skip
    assert missing.status_code == 422
    cap = settings.direct_upload_max_bytes
    big = {"photo": ("big.jpg", b"\xff" * (cap + 1), "image/jpeg")}
    oversize = await api.post("/users/me/avatar", headers=bearer(token), files=big)
    assert oversize.status_code == 413
    assert oversize.json()["error"]["code"] == "payload_too_large"
    too_big = await api.post("/photos", headers=bearer(token), json={
        "filename": "x", "content_type": "image/jpeg", "size_bytes": 60 << 20,
        "purpose": "avatar"})  # fmt: skip
    assert too_big.status_code == 413


async def test_replay_of_the_graph_rebuilds_profiles_and_avatars_equal_to_live(
    api: httpx.AsyncClient, settings: Settings, redis: Redis
) -> None:
    ana, token = await register(api)
    await patch_me(api, token, {"display_name": "Replayed", "bio": "from the log"})
    photo_id = await upload_avatar(api, token, samples.jpeg(samples.scene(400, 400)), "image/jpeg")
    status, _ = await settled(api, token, photo_id)
    assert status["status"] == "published", status
    newer = await patch_me(api, token, {"bio": "newer"})
    live = await api.get(f"/users/{ana}", headers=with_position(token, newer.headers[POSITION]))
    assert live.json()["bio"] == "newer"
    result = await replay_group(settings, Group.GRAPH)
    assert result.swapped, result
    assert result.differences == 0, result
    rebuilt = (await RedisGraph(redis, result.version).users([int(ana)]))[int(ana)]
    assert (rebuilt.display_name, rebuilt.bio) == ("Replayed", "newer")
    assert rebuilt.avatar_keys == tuple(
        avatar_key(int(ana), int(photo_id), s) for s in AVATAR_SIZES
    )
    assert await RedisVersions(redis).active(Group.GRAPH) == result.version
    # gateways pick the swapped-in version up within a second (gateway/deps.py)
    await eventually(lambda: api.get(f"/users/{ana}"), lambda r: r.json() == live.json())


async def test_erasure_leaves_no_avatar_object_and_no_profile_field(
    api: httpx.AsyncClient, settings: Settings, redis: Redis, worker: ManagedProcess
) -> None:
    ana, token = await register(api)
    await patch_me(api, token, {"display_name": "Gone Soon", "bio": "bye"})
    first = await upload_avatar(api, token, samples.jpeg(samples.scene(300, 300, 3)), "image/jpeg")
    assert (await final_status(api, token, first))["status"] == "published"
    second = await upload_avatar(api, token, samples.png(samples.scene(200, 200, 4)), "image/png")
    assert (await final_status(api, token, second))["status"] == "published"
    store = s3_store(settings)
    keys = [avatar_key(int(ana), int(p), s) for p in (first, second) for s in AVATAR_SIZES]
    keys += [original_key(int(ana), int(p)) for p in (first, second)]
    assert all([await store.stat(k) is not None for k in keys])
    r = await api.request("DELETE", "/users/me", json={"password": "correct horse"},
                          headers=bearer(token))  # fmt: skip
    assert r.status_code == 202, r.text
    stores = make_stores(settings)
    try:
        flow = erasure_workflow(settings, stores)
        await eventually(lambda: flow.status(int(ana)), lambda s: s.complete, timeout_s=60)
    finally:
        await stores.redis.aclose()
    assert [k for k in keys if await store.stat(k) is not None] == []  # the replaced one too
    assert (await api.get(f"/users/{ana}")).status_code == 404
    versions = RedisVersions(redis)
    for version in await versions.targets(Group.GRAPH):
        assert not await redis.exists(GraphKeys(version).user(int(ana)))
