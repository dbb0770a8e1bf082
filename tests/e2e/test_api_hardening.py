"""Smaller hardening over HTTP on the real stack: Unicode digits in limits, ids and cursors are
client errors (never a 500 with a traceback); S3's refusals reach clients as plain API errors
without its message or keys; a 405 names the allowed methods."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from photofeed.bootstrap import s3_store
from schemas.media import original_key
from tests.fixtures import bearer, register

pytestmark = pytest.mark.stack
SUPERSCRIPT_TWO, ARABIC_ONE = "\u00b2", "\u0661"
BAD_LIMITS = [SUPERSCRIPT_TWO, ARABIC_ONE, "1" + SUPERSCRIPT_TWO, "9" * 5000]


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def assert_client_error(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, (r.request.url, r.text[:300])
    assert set(r.json()) == {"error"}
    assert "Traceback" not in r.text
    assert "ValueError" not in r.text


async def list_endpoints(api: httpx.AsyncClient) -> tuple[list[tuple[str, dict[str, str]]], str]:
    """Every list endpoint as (path, the query it needs besides limit and cursor), a token."""
    user, token = await register(api)
    paths = [f"/users/{user}/followers", f"/users/{user}/following", "/feed",
             f"/users/{user}/posts", "/posts/1/comments", "/notifications"]  # fmt: skip
    return [*((p, {}) for p in paths), ("/search", {"q": "sunset"})], token


async def test_unicode_digit_limits_are_422_on_every_list_endpoint(api: httpx.AsyncClient) -> None:
    endpoints, token = await list_endpoints(api)
    for path, query in endpoints:
        for limit in BAD_LIMITS:
            r = await api.get(path, params={**query, "limit": limit}, headers=bearer(token))
            assert_client_error(r, 422)
            assert "limit" in r.json()["error"]["message"]
        fine = await api.get(path, params={**query, "limit": "5"}, headers=bearer(token))
        assert fine.status_code in (200, 404)  # /posts/1 does not exist, but the limit passed


async def test_unicode_digit_cursors_are_400_and_ids_404(api: httpx.AsyncClient) -> None:
    endpoints, token = await list_endpoints(api)
    cursors = [b64(f"{SUPERSCRIPT_TWO}.1"), b64(f"1.{ARABIC_ONE}"), b64("1" * 5000 + ".1"),
               b64(f"1.inf/{SUPERSCRIPT_TWO}")]  # fmt: skip
    for path, query in endpoints:
        if path == "/posts/1/comments":
            continue  # checks the post before its cursor
        for cursor in cursors:
            if path == "/notifications" and cursor == cursors[1]:
                continue  # a notification cursor's key is text: any printable key is a key
            r = await api.get(path, params={**query, "cursor": cursor}, headers=bearer(token))
            assert_client_error(r, 400)
    for raw in (SUPERSCRIPT_TWO, ARABIC_ONE, "1" + SUPERSCRIPT_TWO, "9" * 5000):
        for path in (f"/users/{raw}", f"/posts/{raw}", f"/users/{raw}/posts"):
            assert_client_error(await api.get(path), 404)
        assert_client_error(await api.post(f"/follow/{raw}", headers=bearer(token)), 404)


async def test_a_405_carries_allow(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        for method, path, allow in [
            ("PUT", "/users", "POST"),
            ("DELETE", "/posts/1/comments", "GET, POST"),
            ("PATCH", "/sessions", "DELETE, POST"),
            ("GET", "/likes/1", "DELETE, POST"),
        ]:
            r = await client.request(method, path)
            assert_client_error(r, 405)
            assert r.headers["allow"] == allow


async def multipart_upload(
    api: httpx.AsyncClient, token: str
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """A presigned multipart upload with every part sent: (photo id, ticket, parts)."""
    data = os.urandom(6 * 1024 * 1024)  # > the 5 MiB threshold: two parts
    body = {"filename": "big.jpg", "content_type": "image/jpeg", "size_bytes": len(data)}
    r = await api.post("/photos", json=body, headers=bearer(token))
    assert r.status_code == 200, r.text
    ticket: dict[str, Any] = r.json()
    size = ticket["multipart"]["part_size"]
    parts = []
    async with httpx.AsyncClient(timeout=60) as s3:
        for part in ticket["multipart"]["parts"]:
            n = part["part_number"]
            put = await s3.put(part["upload_url"], content=data[(n - 1) * size : n * size])
            assert put.status_code == 200, put.text
            parts.append({"part_number": n, "etag": put.headers["etag"]})
    return ticket["photo_id"], ticket, parts


def assert_no_store_internals(r: httpx.Response, ticket: dict[str, Any], user: str) -> None:
    for internal in ("/photofeed", f"o/{user}", ticket["multipart"]["upload_id"], "S3",
                     "InvalidPart", "uploadId", "<?xml"):  # fmt: skip
        assert internal not in r.text, (internal, r.text)


async def test_s3_refusals_are_plain_api_errors(api: httpx.AsyncClient, settings: Settings) -> None:
    user, token = await register(api)
    photo, ticket, parts = await multipart_upload(api, token)
    complete = f"/photos/{photo}/complete"
    bad_etag = [{**parts[0], "etag": '"' + "0" * 32 + '"'}, parts[1]]
    swapped = [{**parts[0], "etag": parts[1]["etag"]}, {**parts[1], "etag": parts[0]["etag"]}]
    for wrong in (bad_etag, swapped):
        r = await api.post(complete, json={"parts": wrong}, headers=bearer(token))
        assert_client_error(r, 422)
        assert r.json()["error"]["code"] == "invalid_part"
        assert_no_store_internals(r, ticket, user)
    done = await api.post(complete, json={"parts": parts}, headers=bearer(token))
    assert done.status_code == 202, done.text  # the right parts still complete it

    photo, ticket, parts = await multipart_upload(api, token)
    await s3_store(settings).abort_multipart(
        original_key(int(user), int(photo)), ticket["multipart"]["upload_id"]
    )
    gone = await api.post(f"/photos/{photo}/complete", json={"parts": parts},
                          headers=bearer(token))  # fmt: skip
    assert_client_error(gone, 404)
    assert gone.json()["error"]["code"] == "upload_not_found"
    assert_no_store_internals(gone, ticket, user)
