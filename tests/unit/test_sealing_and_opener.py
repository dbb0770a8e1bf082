"""Crypto-shredding's pure parts: sealing personal fields, and the opener that gives projections
plaintext and makes erased users vanish."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import events as ev
from schemas.codec import default_codec
from schemas.sealing import (
    PERSONAL,
    PREFIX,
    Unreadable,
    is_sealed,
    new_key,
    open_event,
    parse_location,
    seal,
    seal_event,
    unseal,
)
from streams.opener import _OTHER_PARTY, Opener, people_of

AT = datetime(2026, 3, 1, tzinfo=UTC)
KEY = new_key()


@given(st.text(max_size=300), st.integers(1, 2**62))
def test_seal_round_trips_and_hides_the_text(text: str, owner: int) -> None:
    sealed = seal(KEY, owner, text)
    assert sealed.startswith(PREFIX)
    assert unseal(KEY, owner, sealed) == text
    if len(text) >= 4:
        assert text not in sealed


def test_a_seal_opens_only_with_its_key_and_owner() -> None:
    sealed = seal(KEY, 7, "ana")
    with pytest.raises(Unreadable):
        unseal(new_key(), 7, sealed)  # the key was destroyed and another made
    with pytest.raises(Unreadable):
        unseal(KEY, 8, sealed)  # copied into someone else's event
    with pytest.raises(Unreadable):
        unseal(KEY, 7, sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1])
    assert unseal(KEY, 7, "plain, from before sealing") == "plain, from before sealing"
    assert seal(KEY, 7, "ana") != sealed  # a fresh nonce every time


def published(**extra: object) -> ev.PostPublished:
    return ev.PostPublished(
        event_id=1, occurred_at=AT, actor_id=7, post_id=2, photo_id=2, caption="at the beach",
        tags=("sea", "sun"), variants=ev.Variants("t", "f", "u"), width=1, height=1, blurhash="x",
        alt_text="a beach", **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_every_personal_field_is_sealed_and_opens_again() -> None:
    plain = published(location=ev.Location(48.85, 2.35))
    sealed = seal_event(plain, KEY)
    assert isinstance(sealed, ev.PostPublished)
    assert all(is_sealed(v) for v in (sealed.caption, *sealed.tags, sealed.alt_text))
    assert sealed.location is None  # doubles cannot carry a seal: moved into sealed_location
    assert is_sealed(sealed.sealed_location)
    assert (sealed.variants, sealed.post_id) == (plain.variants, plain.post_id)  # not personal
    twice = seal_event(sealed, KEY)  # text that looks sealed is sealed again, never kept as is
    assert isinstance(twice, ev.PostPublished)
    assert twice.caption != sealed.caption
    assert open_event(twice, KEY) == sealed
    opened = open_event(default_codec().decode(default_codec().encode(sealed)), KEY)
    assert isinstance(opened, ev.PostPublished)
    assert (opened.caption, opened.tags, opened.alt_text) == (plain.caption, plain.tags,
                                                             plain.alt_text)  # fmt: skip
    assert opened.sealed_location is not None
    assert parse_location(opened.sealed_location) == (48.85, 2.35)


def test_the_personal_fields_exist_on_their_events() -> None:
    for kind, names in PERSONAL.items():
        assert set(names) <= set(kind.__dataclass_fields__), kind


class Keys:
    """An in-memory key store (the port the opener needs; no server involved)."""

    def __init__(self, keys: dict[int, bytes], erased: set[int]) -> None:
        self._keys, self._erased = keys, erased

    async def keys(self, user_ids: Iterable[int]) -> dict[int, bytes]:
        return {u: self._keys[u] for u in user_ids if u in self._keys}

    async def erased(self, user_ids: Iterable[int]) -> set[int]:
        return set(user_ids) & self._erased


async def test_the_opener_opens_and_drops_everything_of_erased_users() -> None:
    mine = seal_event(published(), KEY)  # by user 7
    theirs = seal_event(ev.CommentAdded(event_id=2, occurred_at=AT, actor_id=9, comment_id=3,
                                        post_id=2, author_id=7, text="wow"), KEY)  # fmt: skip
    follow_erased = ev.UserFollowed(event_id=3, occurred_at=AT, actor_id=9, followee_id=5)
    their_comment_removed = ev.CommentDeleted(event_id=4, occurred_at=AT, actor_id=9,
                                              comment_id=8, post_id=2, author_id=9,
                                              commenter_id=5)  # fmt: skip
    request = ev.AccountErasureRequested(event_id=5, occurred_at=AT, actor_id=5)
    by_erased = ev.PostLiked(event_id=6, occurred_at=AT, actor_id=5, post_id=2, author_id=7)
    events: list[ev.Event] = [mine, theirs, follow_erased, their_comment_removed, request,
                              by_erased]  # fmt: skip
    out = await Opener(Keys({7: KEY, 9: KEY}, erased={5})).open(events)
    assert [e.event_id for e in out] == [1, 2, 5]
    assert isinstance(out[0], ev.PostPublished)
    assert out[0].caption == "at the beach"
    assert isinstance(out[1], ev.CommentAdded)
    assert out[1].text == "wow"


async def test_a_destroyed_key_makes_the_events_unreadable_and_they_are_dropped() -> None:
    sealed = seal_event(published(), KEY)
    assert await Opener(Keys({7: new_key()}, erased=set())).open([sealed]) == []


def test_user_text_that_looks_sealed_is_sealed_like_any_other() -> None:
    plain = ev.CommentAdded(
        event_id=1, occurred_at=AT, actor_id=7, comment_id=2, post_id=3, author_id=4,
        text=PREFIX + "not really sealed",
    )  # fmt: skip
    sealed = seal_event(plain, KEY)
    assert isinstance(sealed, ev.CommentAdded)
    assert PREFIX + "not really sealed" not in sealed.text
    assert open_event(sealed, KEY) == plain
    with pytest.raises(Unreadable):
        open_event(sealed, new_key())  # erasure (the key gone) makes it unreadable, like any text


def test_people_of_names_the_actor_and_the_other_user_of_an_edge() -> None:
    at = datetime.now(tz=UTC)
    assert people_of(ev.UserFollowed(event_id=1, occurred_at=at, actor_id=2, followee_id=3)) == {
        2, 3
    }  # fmt: skip
    assert people_of(ev.UserMuted(event_id=1, occurred_at=at, actor_id=2, muted_id=4)) == {2, 4}
    liked = ev.PostLiked(event_id=1, occurred_at=at, actor_id=2, post_id=5, author_id=6)
    assert people_of(liked) == {2}  # the author is not erased with the liker's like
    deleted = ev.CommentDeleted(event_id=1, occurred_at=at, actor_id=6, comment_id=7, post_id=5,
                                author_id=6, commenter_id=8)  # fmt: skip
    assert people_of(deleted) == {8}


def test_people_of_looks_event_types_up_exactly_so_none_may_subclass_another() -> None:
    for kind, other in _OTHER_PARTY.items():
        assert other in {f.name for f in dataclasses.fields(kind)}
    for a in ev.EVENT_TYPES:
        assert not [b for b in ev.EVENT_TYPES if b is not a and issubclass(a, b)], a
