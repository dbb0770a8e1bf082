"""Idempotency-Key's pure parts: fingerprints blind to multipart boundaries, reserved ids, key
validation, the documented header, and the constants' invariants."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.app import API, openapi_document
from gateway.errors import ApiError
from gateway.idempotency import (
    BODY_SLACK_BYTES,
    MAX_KEY_CHARS,
    RESERVED_IDS,
    BodyDigest,
    ReservedIds,
    _valid_key,
    multipart_boundary,
)
from gateway.keys import IdempotencyKeys
from gateway.media_intake import FORM_OVERHEAD_BYTES
from gateway.validation import MAX_JSON_BYTES
from schemas.ids import SnowflakeGenerator


def form(photo: bytes, caption: str) -> tuple[str, bytes]:
    """(content type, body) as httpx sends a form: with a fresh random boundary each time."""
    request = httpx.Request(
        "POST", "http://gw/photos", data={"caption": caption},
        files={"photo": ("p.png", photo, "image/png")},
    )  # fmt: skip
    return request.headers["content-type"], request.read()


def digest(content_type: str, body: bytes, chunk: int) -> bytes:
    d = BodyDigest(multipart_boundary(content_type))
    for i in range(0, len(body), chunk):
        d.update(body[i : i + chunk])
    return d.digest()


@given(st.binary(max_size=3000), st.text(max_size=40), st.sampled_from([1, 7, 64, 4096]))
def test_a_resent_form_matches_its_first_send_whatever_the_boundary(
    photo: bytes, caption: str, chunk: int
) -> None:
    (type1, body1), (type2, body2) = form(photo, caption), form(photo, caption)
    assert type1 != type2  # httpx drew another boundary
    assert digest(type1, body1, chunk) == digest(type2, body2, len(body2) or 1)


@given(st.binary(min_size=1, max_size=2000), st.sampled_from([1, 13, 4096]))
def test_another_file_or_caption_is_another_fingerprint(photo: bytes, chunk: int) -> None:
    ctype, body = form(photo, "a")
    assert digest(ctype, body, chunk) != digest(*form(photo + b"x", "a"), chunk)
    assert digest(ctype, body, chunk) != digest(*form(photo, "b"), chunk)


def test_other_bodies_are_hashed_as_they_are() -> None:
    assert multipart_boundary("application/json") == b""
    assert multipart_boundary('multipart/form-data; boundary="ab c"') == b"--ab c"
    assert digest("application/json", b'{"a":1}', 3) == hashlib.sha256(b'{"a":1}').digest()


def test_reserved_ids_come_first_in_order_then_fresh_ones() -> None:
    fresh = SnowflakeGenerator(5)
    ids = ReservedIds([11, 12], fresh)
    assert [ids.next_id(), ids.next_id()] == [11, 12]
    assert ids.next_id() > 12


@pytest.mark.parametrize("raw", ["", " ", "a" * (MAX_KEY_CHARS + 1), "caf\u00e9", "a b"])
def test_bad_keys_are_400(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        _valid_key(raw)
    assert (caught.value.status, caught.value.code) == (400, "invalid_idempotency_key")


def test_good_keys_pass() -> None:
    assert _valid_key(" 3f2b8c1e-6a7d-4f0e-9b1a-1c2d3e4f5a6b ") == (
        "3f2b8c1e-6a7d-4f0e-9b1a-1c2d3e4f5a6b"
    )
    assert _valid_key("~" * MAX_KEY_CHARS) == "~" * MAX_KEY_CHARS


def test_records_are_per_user_or_per_key_for_registration() -> None:
    assert IdempotencyKeys.record(42, "k") == "idem:{42}:k"
    assert IdempotencyKeys.record(None, "k") == "idem:{anon:k}"


def test_constants_hold_their_invariants() -> None:
    assert RESERVED_IDS >= 2  # register, comment and direct upload draw two ids each
    assert max(MAX_JSON_BYTES, FORM_OVERHEAD_BYTES) <= BODY_SLACK_BYTES


def test_every_creating_post_takes_the_header_and_documents_its_answers() -> None:
    doc = openapi_document()
    keyed = {(m, p) for m, p, _, op in API if op.idempotent}
    assert keyed == {("POST", "/users"), ("POST", "/posts/{post_id}/comments"),
                     ("POST", "/photos"), ("POST", "/photos/{photo_id}/complete"),
                     ("POST", "/users/me/avatar")}  # fmt: skip
    for method, path in keyed:
        op = doc["paths"][path][method.lower()]
        assert "Idempotency-Key" in [p["name"] for p in op["parameters"]]
        assert "Idempotency-Key" in op["responses"]["409"]["description"]
        assert "another body" in op["responses"]["422"]["description"]
    for method, path, _, op in API:
        if not op.idempotent:
            params = doc["paths"][path][method.lower()]["parameters"]
            assert "Idempotency-Key" not in [p["name"] for p in params]
