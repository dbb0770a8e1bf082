"""Profiles and avatars as pure logic: what PATCH /users/me accepts (and that the document's
patterns say exactly the same), the writes ProfileUpdated and UserAvatarChanged imply for the
graph and photos groups, the avatar object keys, and the user JSON built from a view."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.errors import ApiError
from gateway.profiles import (
    BIO_PATTERN,
    DISPLAY_NAME_PATTERN,
    MAX_BIO,
    MAX_DISPLAY_NAME,
    ProfilePatch,
    profile_patch,
)
from gateway.route_kit import avatar_url, user_json
from projections.graph.cassandra import user_view as cassandra_user_view
from projections.graph.handlers import on_avatar_changed, on_profile_updated
from projections.graph.ports import UserView
from projections.graph.redis import user_view
from projections.photos.handlers import on_avatar_changed as photo_settled
from projections.writes import SetAvatar, SetPhoto, SetProfile
from schemas import events as ev
from schemas.media import (
    AVATAR_SIZES,
    avatar_key,
    avatar_prefix,
    avatar_upload_of,
    content_of,
    variant_key,
)

AT = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)
USER, PHOTO = 42, 7_000_000_000_000_000_001
KEYS = tuple(avatar_key(USER, PHOTO, size) for size in AVATAR_SIZES)


def refused(body: dict[str, object]) -> str:
    """The 422 message for `body` (it names the field first)."""
    with pytest.raises(ApiError) as caught:
        profile_patch(body)
    assert (caught.value.status, caught.value.code) == (422, "invalid_field")
    return caught.value.message


# --- PATCH /users/me ---------------------------------------------------------------------------
def test_fields_are_trimmed_and_each_is_optional() -> None:
    assert profile_patch({}) == ProfilePatch()
    assert profile_patch({"display_name": "  Ana Lima \t"}) == ProfilePatch("Ana Lima")
    assert profile_patch({"bio": " light chaser\nLisbon\n "}) == ProfilePatch(
        bio="light chaser\nLisbon"
    )
    assert profile_patch({"private": True}) == ProfilePatch(private=True)
    assert not profile_patch({"private": False}).profile_changed
    assert profile_patch({"bio": "x"}).profile_changed


@pytest.mark.parametrize("value", ["", "   ", None])
def test_empty_or_null_clears(value: str | None) -> None:
    assert profile_patch({"display_name": value, "bio": value}) == ProfilePatch("", "")


def test_the_limits_count_characters_after_trimming() -> None:
    name = "é" * MAX_DISPLAY_NAME
    assert profile_patch({"display_name": f"  {name}  "}).display_name == name
    assert refused({"display_name": name + "x"}).startswith("display_name: must be at most 50")
    bio = "🌅" * MAX_BIO
    assert profile_patch({"bio": bio}).bio == bio
    assert refused({"bio": bio + "\n.", "display_name": "ok"}).startswith("bio: must be at most")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "ana\x00"}, "display_name"),
        ({"display_name": "a\tb"}, "display_name"),  # a tab inside: a control character
        ({"display_name": "two\nlines"}, "display_name"),
        ({"display_name": "a\u2028b"}, "display_name"),
        ({"display_name": "a\x85b"}, "display_name"),
        ({"bio": "a\tb"}, "bio"),
        ({"bio": "a\rb"}, "bio"),
        ({"bio": "bell\x07"}, "bio"),
        ({"bio": "a\u2029b"}, "bio"),
        ({"display_name": 5}, "display_name"),
        ({"bio": ["x"]}, "bio"),
        ({"private": "yes"}, "private"),
        ({"private": None}, "private"),
        ({"private": 1}, "private"),
        ({"display_name": "ok", "username": "mallory"}, "username"),
        ({"avatar_url": "https://evil"}, "avatar_url"),
    ],
)
def test_bad_input_is_422_naming_the_field(body: dict[str, object], field: str) -> None:
    assert refused(body).startswith(f"{field}: ")


def test_a_bio_keeps_its_newlines() -> None:
    assert profile_patch({"bio": "one\n\ntwo"}).bio == "one\n\ntwo"


_CHARS = st.sampled_from(
    ["a", "Z", "é", "🌅", " ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\x85", "\xa0", "\u2028",
     "\u3000", "\u200b", "."]
)  # fmt: skip


def accepted(body: dict[str, object]) -> bool:
    try:
        profile_patch(body)
    except ApiError:
        return False
    return True


@given(st.lists(_CHARS, max_size=60).map("".join) | st.text(max_size=60))
@example("a" * 50 + "\n")
@example("\n" + "a" * 50)
@example(" " * 10 + "a" * 50 + " " * 10)
@example("a" * 51)
def test_the_display_name_pattern_accepts_exactly_what_the_route_does(text: str) -> None:
    """The pattern is what /openapi.json publishes (schemathesis holds the gateway to it), read
    as jsonschema does: re.search."""
    matches = re.search(DISPLAY_NAME_PATTERN, text) is not None
    assert matches == accepted({"display_name": text}), repr(text)


@given(st.lists(_CHARS, max_size=320).map("".join) | st.text(max_size=40))
@example("x" * 300 + "\n\n")
@example("x" * 301)
@example("a\nb")
def test_the_bio_pattern_accepts_exactly_what_the_route_does(text: str) -> None:
    matches = re.search(BIO_PATTERN, text) is not None
    assert matches == accepted({"bio": text}), repr(text)


# --- the graph group ---------------------------------------------------------------------------
def test_a_profile_update_sets_only_the_fields_it_carries() -> None:
    def updated(**fields: str | None) -> ev.ProfileUpdated:
        return ev.ProfileUpdated(event_id=9, occurred_at=AT, actor_id=USER, **fields)

    assert on_profile_updated(updated(display_name="Ana")) == [SetProfile(USER, "Ana", None, 9)]
    assert on_profile_updated(updated(bio="")) == [SetProfile(USER, None, "", 9)]
    assert on_profile_updated(updated()) == []


def test_an_uploaded_avatar_counts_as_of_its_upload_a_removal_as_of_itself() -> None:
    uploaded = ev.UserAvatarChanged(event_id=PHOTO + 500, occurred_at=AT, actor_id=USER,
                                    avatar_keys=KEYS)  # fmt: skip
    assert on_avatar_changed(uploaded) == [SetAvatar(USER, None, PHOTO, KEYS)]
    # so a removal made after the upload began wins, whichever event the log holds last
    removed = ev.UserAvatarChanged(event_id=PHOTO + 100, occurred_at=AT, actor_id=USER)
    assert on_avatar_changed(removed) == [SetAvatar(USER, None, PHOTO + 100)]
    v1 = ev.UserAvatarChanged(event_id=3, occurred_at=AT, actor_id=USER, avatar_url="https://a")
    assert on_avatar_changed(v1) == [SetAvatar(USER, "https://a", 3)]


def test_the_avatars_upload_is_settled_published_without_a_post() -> None:
    uploaded = ev.UserAvatarChanged(event_id=PHOTO + 500, occurred_at=AT, actor_id=USER,
                                    avatar_keys=KEYS)  # fmt: skip
    fields = (("64", KEYS[0]), ("150", KEYS[1]), ("320", KEYS[2]), ("published_ms", str(AT_MS)),
              ("purpose", "avatar"))  # fmt: skip
    assert photo_settled(uploaded) == [SetPhoto(PHOTO, USER, "published", PHOTO + 500, fields)]
    removed = ev.UserAvatarChanged(event_id=5, occurred_at=AT, actor_id=USER)
    assert photo_settled(removed) == []


def test_avatar_keys_name_their_owner_and_upload_and_no_content() -> None:
    assert KEYS[1] == f"v/a/{USER}/{PHOTO}/150.jpg"
    assert all(k.startswith(avatar_prefix(USER)) for k in KEYS)
    assert not avatar_key(USER + 1, PHOTO, 64).startswith(avatar_prefix(USER))
    assert {avatar_upload_of(k) for k in KEYS} == {PHOTO}
    assert {content_of(k) for k in KEYS} == {None}  # never mistaken for a photo's variant
    assert avatar_upload_of(variant_key("ab" + "0" * 62, "feed")) is None
    assert avatar_upload_of(f"o/{USER}/{PHOTO}") is None


# --- user objects ------------------------------------------------------------------------------
def public(key: str) -> str:
    return f"https://cdn.example/bucket/{key}"


def test_a_user_object_carries_the_150_px_square_or_a_v1_url_or_nothing() -> None:
    keyed = UserView(USER, "ana", None, 1, "Ana Lima", "bio", KEYS)
    assert user_json(keyed, public).items() >= {
        "user_id": str(USER), "username": "ana", "display_name": "Ana Lima",
        "avatar_url": public(KEYS[1]),
    }.items()  # fmt: skip
    assert "bio" not in user_json(keyed, public)  # the profile's (GET /users/{id}) alone
    assert avatar_url(UserView(USER, "ana", "https://a", 1), public) == "https://a"
    assert avatar_url(UserView(USER, "ana", None, 1), public) is None


def test_a_user_hash_reads_as_its_view() -> None:
    row = [b"ana", None, b"17", "Ana", b"", *(k.encode() for k in KEYS)]
    assert user_view(USER, row) == UserView(USER, "ana", None, 17, "Ana", None, KEYS)
    partial = [b"ana", b"https://a", b"17", None, None, KEYS[0].encode(), None, None]
    assert user_view(USER, partial) == UserView(USER, "ana", "https://a", 17)


def test_a_cassandra_user_row_reads_as_its_view() -> None:
    row = {"user_id": USER, "username": "ana", "created_ms": 17, "avatar_url": None,
           "avatar_keys": list(KEYS), "display_name": "Ana", "bio": None}  # fmt: skip
    assert cassandra_user_view(USER, row) == UserView(USER, "ana", None, 17, "Ana", None, KEYS)
    cleared = {**row, "avatar_keys": None, "display_name": ""}
    assert cassandra_user_view(USER, cleared) == UserView(USER, "ana", None, 17)
