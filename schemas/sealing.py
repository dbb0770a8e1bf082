"""Crypto-shredding: personal data in events is sealed with its owner's data key.

A sealed field is a string `sealed1.<base64url(nonce | AES-256-GCM ciphertext)>`, bound to the
owner's user id (the associated data), so a value copied into another user's event does not open.
Keys live outside the log (the key store); erasing a user destroys the key, and from then on every
copy of their personal data — in the log, in backups of it, at data teams — is unreadable noise.

Which fields are personal is declared here (and marked `"photofeed.personal": true` in the newest
schemas); the owner of every sealed field is the event's actor.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas import events as ev

PREFIX = "sealed1."
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per value (2^-32 collision odds at 2^32 seals)

PERSONAL: dict[type[ev.Event], tuple[str, ...]] = {
    ev.UserRegistered: ("username",),
    ev.UserAvatarChanged: ("avatar_url",),
    ev.ProfileUpdated: ("display_name", "bio"),
    ev.PhotoUploaded: ("caption", "tags", "alt_text", "sealed_location"),
    ev.PostPublished: ("caption", "tags", "alt_text", "sealed_location"),
    ev.CommentAdded: ("text",),
}


class Unreadable(ValueError):
    """A sealed value that this key does not open (wrong owner, tampered, or not a seal)."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, owner: int, plaintext: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, plaintext.encode(), str(owner).encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + body).decode().rstrip("=")


def unseal(key: bytes, owner: int, value: str) -> str:
    """The plaintext of a sealed value; any other string is returned as it is (plaintext
    written before sealing existed)."""
    if not value.startswith(PREFIX):
        return value
    text = value[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], str(owner).encode())
    except (binascii.Error, InvalidTag, ValueError) as exc:
        raise Unreadable(f"cannot open a sealed value of user {owner}") from exc
    return plain.decode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def has_personal_data(event: ev.Event) -> bool:
    return type(event) in PERSONAL


def seal_event(event: ev.Event, key: bytes) -> ev.Event:
    """The event with every personal field sealed with its actor's key, whatever the field
    holds: user text that merely looks like a seal (`sealed1.…`) is sealed like any other, so
    nothing a user types can stay plaintext in the log. Call it once per event (a second call
    seals the seal). A plain `location` moves into `sealed_location` first: doubles cannot carry
    a seal."""
    location = getattr(event, "location", None)
    if isinstance(location, ev.Location):
        text = location_text(location.lat, location.lon)
        event = dataclasses.replace(event, location=None, sealed_location=text)  # type: ignore[call-arg]
    return _map_fields(event, lambda v: seal(key, event.actor_id, v))


def open_event(event: ev.Event, key: bytes) -> ev.Event:
    """The event with every personal field opened; Unreadable when the key does not fit."""
    return _map_fields(event, lambda v: unseal(key, event.actor_id, v))


def location_text(lat: float, lon: float) -> str:
    return f"{lat!r},{lon!r}"


def parse_location(text: str) -> tuple[float, float]:
    lat, _, lon = text.partition(",")
    return float(lat), float(lon)


def _map_fields(event: ev.Event, fn: Any) -> ev.Event:
    names = PERSONAL.get(type(event), ())
    changes: dict[str, Any] = {}
    for name in names:
        value = getattr(event, name)
        if isinstance(value, str):
            changes[name] = fn(value)
        elif isinstance(value, tuple):
            changes[name] = tuple(fn(v) for v in value)
    return dataclasses.replace(event, **changes) if changes else event


def personal_fields() -> Mapping[str, tuple[str, ...]]:
    """Event name -> its personal fields: what data teams find sealed."""
    return {t.__name__: names for t, names in PERSONAL.items()}
