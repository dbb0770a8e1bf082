"""Bearer tokens, page cursors and username validation: pure gateway helpers."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.cursors import decode_cursor, encode_cursor
from gateway.errors import ApiError
from gateway.tokens import PREFIX, InvalidToken, TokenSigner
from gateway.validation import USERNAME, username_field
from projections.ports import Position

SECRET = "s" * 32
OTHER_SECRET = "o" * 40
TTL = 3600
NOW = 1_750_000_000
MAX_ID = 2**63 - 1


def signer(secret: str = SECRET, ttl: int = TTL) -> TokenSigner:
    return TokenSigner(secret, ttl)


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


# tokens -------------------------------------------------------------------------------------------


@given(st.integers(1, MAX_ID), st.integers(0, 2**40), st.integers(1, 10**8))
def test_issue_then_verify_returns_the_user(user_id: int, now: int, ttl: int) -> None:
    s = signer(ttl=ttl)
    token, expires = s.issue(user_id, now)
    assert expires == now + ttl
    assert token.startswith(f"{PREFIX}.")
    assert s.verify(token, now) == user_id
    assert s.verify(token, expires - 1) == user_id


@pytest.mark.parametrize("after", [0, 1, 10**6])
def test_a_token_is_expired_from_its_expiry_on(after: int) -> None:
    s = signer()
    token, expires = s.issue(7, NOW)
    with pytest.raises(InvalidToken, match="expired"):
        s.verify(token, expires + after)


def test_another_secret_does_not_verify() -> None:
    token, _ = signer(OTHER_SECRET).issue(7, NOW)
    with pytest.raises(InvalidToken):
        signer().verify(token, NOW)


def test_a_forged_signature_is_refused() -> None:
    token, _ = signer().issue(7, NOW)
    payload, sig = token.rsplit(".", 1)
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for forged in (
        f"{payload}.{flipped}",
        f"{payload}.",
        f"{payload}.{sig}x",
        f"{payload}.{sig[:-1]}",
    ):
        with pytest.raises(InvalidToken):
            signer().verify(forged, NOW)


@pytest.mark.parametrize("replacement", ["8", "70", "07", "1" * 19])
def test_a_tampered_user_id_is_refused(replacement: str) -> None:
    token, _ = signer().issue(7, NOW)
    prefix, _user, expires, sig = token.split(".")
    with pytest.raises(InvalidToken):
        signer().verify(f"{prefix}.{replacement}.{expires}.{sig}", NOW)


def test_a_tampered_expiry_is_refused() -> None:
    token, expires = signer().issue(7, NOW)
    prefix, user, _, sig = token.split(".")
    with pytest.raises(InvalidToken):
        signer().verify(f"{prefix}.{user}.{expires + 10**6}.{sig}", NOW)


@pytest.mark.parametrize("prefix", ["pf2", "PF1", "pf0", "", "xx"])
def test_a_wrong_prefix_is_refused(prefix: str) -> None:
    token, _ = signer().issue(7, NOW)
    _, rest = token.split(".", 1)
    with pytest.raises(InvalidToken):
        signer().verify(f"{prefix}.{rest}", NOW)


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "...", "....", "pf1", "pf1.7", "pf1.7.9", "pf1.a.b.c", "pf1.-7.99.sig", "Bearer x"],
)
def test_garbage_tokens_are_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        signer().verify(garbage, NOW)


@given(st.text())
@example(f"{PREFIX}.7.{NOW + TTL}.\u00e9")  # well-formed, but a non-ASCII signature
def test_any_text_is_refused_with_invalid_token(text: str) -> None:
    with pytest.raises(InvalidToken):
        signer().verify(text, NOW)


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_short_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="32"):
        TokenSigner(secret, TTL)


def test_a_32_character_secret_is_enough() -> None:
    token, _ = TokenSigner("k" * 32, TTL).issue(1, NOW)
    assert "k" * 32 not in token


# cursors ------------------------------------------------------------------------------------------


@given(st.builds(Position, st.integers(0, 2**53), st.integers(0, MAX_ID)))
def test_cursors_round_trip(position: Position) -> None:
    cursor = encode_cursor(position)
    assert cursor is not None
    assert set(cursor) <= set(string.ascii_letters + string.digits + "-_")  # URL-safe, no padding
    assert decode_cursor(cursor) == position


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_means_the_first_page(cursor: str | None) -> None:
    assert decode_cursor(cursor) is None


def test_no_position_encodes_to_no_cursor() -> None:
    assert encode_cursor(None) is None


@pytest.mark.parametrize(
    "payload",
    ["a.1", "1.b", "1", "1.2.3", ".", "1.", ".2", "-1.2", "1.-2", " 1.2", "1.2 ", "1e3.4"],
)
def test_cursors_with_non_digit_payloads_are_400(payload: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_cursor(b64(payload))
    assert info.value.status == 400
    assert info.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    "cursor",
    ["!", "a", "abcde", "%%%%", "\u00e9t\u00e9", "////", base64.b64encode(b"\xff\xfe").decode()],
)
def test_garbage_cursors_are_400(cursor: str) -> None:
    with pytest.raises(ApiError) as info:
        decode_cursor(cursor)
    assert info.value.status == 400


@given(st.text(min_size=1))
def test_decoding_any_text_is_a_position_or_a_400(cursor: str) -> None:
    outcome: Position | ApiError | None
    try:
        outcome = decode_cursor(cursor)
    except ApiError as exc:
        outcome = exc
    if isinstance(outcome, ApiError):
        assert outcome.status == 400
    else:
        assert outcome is not None
        assert outcome.at_ms >= 0
        assert outcome.id >= 0


# usernames ----------------------------------------------------------------------------------------

ALLOWED = set(string.ascii_lowercase + string.digits + "_.")


def is_valid_username(name: str) -> bool:
    """The rule as documented: 3..30 of a-z 0-9 _ . and no dot at either end."""
    return (
        3 <= len(name) <= 30
        and set(name) <= ALLOWED
        and not name.startswith(".")
        and not name.endswith(".")
    )


@pytest.mark.parametrize(
    "name", ["abc", "a" * 30, "a.b", "a_b", "_ab", "ab_", "user.name_01", "x..y", "123", "___"]
)
def test_username_accepts(name: str) -> None:
    assert USERNAME.match(name)


@pytest.mark.parametrize(
    "name",
    ["", "a", "ab", "a" * 31, ".abc", "abc.", "...", "Abc", "ab-c", "ab c", "\u00e9t\u00e9", "a@b"],
)
def test_username_rejects(name: str) -> None:
    assert not USERNAME.match(name)


@given(st.text(alphabet=[*sorted(ALLOWED), "A", "-", " ", "\n", "\u00e9"], max_size=34))
@example("abc\n")
def test_username_pattern_is_exactly_the_documented_rule(name: str) -> None:
    assert bool(USERNAME.match(name)) == is_valid_username(name)


@pytest.mark.parametrize(("raw", "stored"), [("Alice", "alice"), ("  bob.smith ", "bob.smith")])
def test_username_field_normalises_case_and_whitespace(raw: str, stored: str) -> None:
    assert username_field({"username": raw}) == stored


@pytest.mark.parametrize("raw", ["a", ".alice", "al ice", 42, None])
def test_username_field_rejects_with_422(raw: object) -> None:
    with pytest.raises(ApiError) as info:
        username_field({"username": raw})
    assert info.value.status == 422
