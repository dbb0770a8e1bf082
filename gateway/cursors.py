"""Opaque page cursors: base64url of a Position, stable while new rows arrive above it."""

from __future__ import annotations

import base64
import binascii

from gateway.errors import ApiError
from projections.ports import Position


def encode_cursor(position: Position | None) -> str | None:
    if position is None:
        return None
    raw = f"{position.at_ms}.{position.id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> Position | None:
    """The position a cursor names; 400 for anything this gateway did not hand out."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        at_ms, ident = raw.split(".")
        if at_ms.isdigit() and ident.isdigit():
            return Position(int(at_ms), int(ident))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(400, "invalid_cursor", "cursor is not one this API handed out")
