"""Opaque page cursors: base64url of where the last row sat, stable while new rows arrive above it.

Two shapes: a Position (ms, numeric id) for posts, users and comments, and (ms, text key) for
notification groups. Numbers in a cursor are 1..19 ASCII digits: anything else is a 400, never
an int() that fails (Unicode digits, thousands of digits).
"""

from __future__ import annotations

import base64
import binascii
import math

from gateway.errors import ApiError
from gateway.validation import ascii_digits
from projections.ports import Position
from projections.search.logic import SearchCursor


def encode_cursor(position: Position | None) -> str | None:
    return None if position is None else _pack(position.at_ms, str(position.id))


def decode_cursor(cursor: str | None) -> Position | None:
    """The position a cursor names; 400 for anything this gateway did not hand out."""
    if not cursor:
        return None
    at_ms, ident = _unpack(cursor)
    if not ascii_digits(ident):
        raise _invalid()
    return Position(at_ms, int(ident))


def encode_key_cursor(position: tuple[int, str] | None) -> str | None:
    return None if position is None else _pack(*position)


def decode_key_cursor(cursor: str | None) -> tuple[int, str] | None:
    return _unpack(cursor) if cursor else None


def _pack(at_ms: int, key: str) -> str:
    return base64.urlsafe_b64encode(f"{at_ms}.{key}".encode()).rstrip(b"=").decode()


def _unpack(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    at_ms, _, key = raw.partition(".")
    if not (ascii_digits(at_ms) and key and key.isprintable() and " " not in key):
        raise _invalid()
    return int(at_ms), key


def _invalid() -> ApiError:
    return ApiError(400, "invalid_cursor", "cursor is not one this API handed out")


def encode_search_cursor(cursor: SearchCursor | None) -> str | None:
    """A search page's end: relevance (its exact float text), time and post id."""
    if cursor is None:
        return None
    return _pack(cursor.at_ms, f"{cursor.rank!r}/{cursor.post_id}")


def decode_search_cursor(cursor: str | None) -> SearchCursor | None:
    if not cursor:
        return None
    at_ms, key = _unpack(cursor)
    rank, _, post_id = key.partition("/")
    try:
        value = float(rank) if rank.isascii() and len(rank) <= 40 else math.nan
    except ValueError:
        raise _invalid() from None
    if not ascii_digits(post_id) or not math.isfinite(value):  # an index gives finite ranks
        raise _invalid()
    return SearchCursor(value, at_ms, int(post_id))
