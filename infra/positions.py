"""Positions in the log and the opaque token that carries them to clients (read-your-writes).

A write answer hands its client a token naming where its events landed: (topic, partition,
offset) of each. The client sends it back on its next requests; the gateway then waits until
the projection groups a route reads have applied those offsets (gateway/consistency.py).

The token is `base64url("1|topic:partition:offset|...")` without padding: versioned, short (an
entry is ~30 characters), readable when decoded by hand, and bounded on the way in. Clients
must treat it as opaque. Several tokens may be sent comma-separated (base64url has no comma);
the gateway merges them, keeping the newest offset per partition.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import NamedTuple

VERSION = "1"
MAX_POSITIONS = 256  # >= the partitions of every topic a client can write (5 x 6 by default),
# since a merged token holds one entry per partition
MAX_TOKEN_CHARS = 16_384  # > MAX_POSITIONS entries of ~40 base64 characters; under the HTTP
# server's header limits
MAX_PARTITION = 2**31 - 1  # Kafka's partition ids are int32
MAX_OFFSET = 2**53  # offsets are int64; beyond 2^53 Lua (the applied-offset script) loses
# precision, and no log of ours comes near it
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")  # Kafka's legal topic names


class LogPosition(NamedTuple):
    """Where one event is stored: its topic, partition and offset."""

    topic: str
    partition: int
    offset: int


class InvalidPosition(ValueError):
    """A token that this codec did not write (or that was cut or altered)."""


def merge(*positions: Iterable[LogPosition]) -> list[LogPosition]:
    """The newest offset per (topic, partition) of all `positions`, in (topic, partition)
    order: a token that covers every write the inputs covered."""
    newest: dict[tuple[str, int], int] = {}
    for group in positions:
        for p in group:
            key = (p.topic, p.partition)
            if p.offset > newest.get(key, -1):
                newest[key] = p.offset
    return [LogPosition(t, part, o) for (t, part), o in sorted(newest.items())]


def encode_token(positions: Iterable[LogPosition]) -> str:
    """The token of `positions` (merged first, so equal inputs give equal tokens)."""
    body = "|".join([VERSION, *(f"{t}:{p}:{o}" for t, p, o in merge(positions))])
    return base64.urlsafe_b64encode(body.encode()).rstrip(b"=").decode()


def decode_token(header: str) -> list[LogPosition]:
    """The merged positions of one header value: one token, or several joined by commas.
    Raises InvalidPosition for anything encode_token could not have written."""
    if len(header) > MAX_TOKEN_CHARS:
        raise InvalidPosition(f"longer than {MAX_TOKEN_CHARS} characters")
    found: list[LogPosition] = []
    for token in header.split(","):
        found += _decode_one(token.strip())
        if len(found) > MAX_POSITIONS:
            raise InvalidPosition(f"more than {MAX_POSITIONS} positions")
    return merge(found)


def _decode_one(token: str) -> list[LogPosition]:
    if not token or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise InvalidPosition("not base64url")
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidPosition("not base64url of a position list") from None
    version, *entries = text.split("|")
    if version != VERSION:
        raise InvalidPosition(f"unknown version {version[:8]!r}")
    return [_entry(e) for e in entries]


def _entry(entry: str) -> LogPosition:
    topic, _, rest = entry.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not _TOPIC.fullmatch(topic) or not partition.isdigit() or not rest.isdigit():
        raise InvalidPosition(f"not topic:partition:offset: {entry[:80]!r}")
    p, o = int(partition), int(rest)
    if p > MAX_PARTITION or o > MAX_OFFSET:
        raise InvalidPosition(f"partition or offset out of range: {entry[:80]!r}")
    return LogPosition(topic, p, o)
