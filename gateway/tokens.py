"""Signed, expiring bearer tokens naming one session:
`pf1.<user_id>.<expires_unix>.<sid>~<epoch>~<HMAC-SHA256>` (HMAC in base64url, over all before it).

The signature proves who and until when without a lookup; whether the session still stands is
the session store's word (gateway/sessions.py), asked on every authenticated request:
- `sid` (SID_CHARS base64url characters, random) names this login, so it alone can be revoked;
- `epoch` is the account's `changed_at` (ms) when the token was issued: a password change or
  "log out everywhere" moves it on, which revokes every token issued before.
Tokens of the earlier `pf1.<user_id>.<expires>.<sig>` shape carry no session and are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "pf1"
SID_BYTES = 12  # 96 random bits: no two sessions collide in practice
SID_CHARS = 16  # base64url length of SID_BYTES (12 * 4 / 3)
_SESSION = re.compile(r"([A-Za-z0-9_-]{16})~(0|[1-9][0-9]{0,18})~([A-Za-z0-9_-]{43})\Z")
_NUMBER = re.compile(r"(0|[1-9][0-9]{0,18})\Z")  # ASCII digits only, one spelling per value
VERIFIED_CACHE = 4096  # tokens whose signature was checked, kept per signer (oldest dropped)


class InvalidToken(ValueError):
    """Missing, malformed, forged or expired; the message says which (never echoing a secret)."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says: who, until when, which session, which account epoch."""

    user_id: int
    expires: int  # unix seconds
    sid: str
    epoch: int  # the account's changed_at (ms) at issue


def new_sid() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(SID_BYTES)).decode()


class TokenSigner:
    def __init__(self, secret: str, ttl_s: int) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must have at least 32 characters")
        self._key = secret.encode()
        self.ttl_s = ttl_s
        # token -> its claims, for tokens this signer verified: a client sends the same token
        # on every request, and the HMAC and parsing cost more than the rest of auth. Only a
        # token with a valid signature gets in, and the expiry is still checked on every call.
        self._verified: dict[str, Claims] = {}

    def issue(
        self, user_id: int, now_s: int, *, epoch: int = 0, sid: str | None = None
    ) -> tuple[str, int]:
        """A token for a new session of `user_id` (or session `sid`) at account epoch `epoch`,
        and its expiry (unix seconds)."""
        expires = now_s + self.ttl_s
        payload = f"{PREFIX}.{user_id}.{expires}.{sid or new_sid()}~{epoch}"
        return f"{payload}~{self._sign(payload)}", expires

    def verify(self, token: str, now_s: int) -> int:
        """The user id a valid token names; raise InvalidToken otherwise."""
        return self.claims(token, now_s).user_id

    def claims(self, token: str, now_s: int) -> Claims:
        """Everything a valid, unexpired token says; raise InvalidToken otherwise. Pure: whether
        the session was revoked is for the session store."""
        found = self._verified.get(token)
        if found is None:
            found = self._signed(token)
            if len(self._verified) >= VERIFIED_CACHE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = found
        if found.expires <= now_s:
            raise InvalidToken("token expired")
        return found

    def _signed(self, token: str) -> Claims:
        """The claims of a well-formed token with a valid signature, expired or not; raise
        InvalidToken otherwise."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != PREFIX:
            raise InvalidToken("malformed token")
        user, expires = _NUMBER.match(parts[1]), _NUMBER.match(parts[2])
        session = _SESSION.match(parts[3])
        if user is None or expires is None or session is None:
            raise InvalidToken("malformed token")
        sid, epoch, signature = session.groups()
        payload = f"{parts[0]}.{parts[1]}.{parts[2]}.{sid}~{epoch}"
        if not hmac.compare_digest(self._sign(payload).encode(), signature.encode()):
            raise InvalidToken("token signature does not match")
        return Claims(int(user[0]), int(expires[0]), sid, int(epoch))

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
