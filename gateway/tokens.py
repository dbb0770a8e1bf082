"""Signed, expiring bearer tokens: `pf1.<user_id>.<expires_unix>.<HMAC-SHA256>` (base64url).

Stateless: any gateway holding the secret verifies a token without a lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "pf1"


class InvalidToken(ValueError):
    """Missing, malformed, forged or expired; the message says which (never echoing a secret)."""


class TokenSigner:
    def __init__(self, secret: str, ttl_s: int) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must have at least 32 characters")
        self._key = secret.encode()
        self.ttl_s = ttl_s

    def issue(self, user_id: int, now_s: int) -> tuple[str, int]:
        """A token for `user_id` and its expiry (unix seconds)."""
        expires = now_s + self.ttl_s
        payload = f"{PREFIX}.{user_id}.{expires}"
        return f"{payload}.{self._sign(payload)}", expires

    def verify(self, token: str, now_s: int) -> int:
        """The user id a valid token names; raise InvalidToken otherwise."""
        parts = token.split(".")
        if (
            len(parts) != 4
            or parts[0] != PREFIX
            or not parts[1].isdigit()
            or not parts[2].isdigit()
        ):
            raise InvalidToken("malformed token")
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(self._sign(payload).encode(), parts[3].encode()):
            raise InvalidToken("token signature does not match")
        if int(parts[2]) <= now_s:
            raise InvalidToken("token expired")
        return int(parts[1])

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
