"""Redis key names of the gateway's command-side state: each store's key scheme is one class
here, the only place its keys are spelled (the projections' are in `projections/<group>/keys.py`).

None of these is a projection: they are not versioned and no replay rebuilds them (accounts are
backed up instead: infra/backup.py). Keys that a script reads together share a hash tag, so the
script stays on one slot of a Redis Cluster: an account's hash and its sessions' revocations
share `{<user_id>}` (gateway/sessions.py checks both in one call).
"""

from __future__ import annotations


class AccountKeys:
    """gateway/accounts.py: the account hash and the username reservation."""

    _PREFIX, _SUFFIX = "account:{", "}"
    PATTERN = f"{_PREFIX}*{_SUFFIX}"  # SCAN MATCH pattern of every account hash (not name keys)

    @staticmethod
    def account(user_id: int) -> str:
        """The account hash: username, password_hash, changed_at (and erasing)."""
        return f"{AccountKeys._PREFIX}{user_id}{AccountKeys._SUFFIX}"

    @staticmethod
    def name(username: str) -> str:
        """The username reservation: the owner's user id."""
        return f"account:name:{username}"

    @staticmethod
    def user_id_of(key: str) -> int:
        """The user id in an `account` key; ValueError for any other key."""
        prefix, suffix = AccountKeys._PREFIX, AccountKeys._SUFFIX
        if not (key.startswith(prefix) and key.endswith(suffix)):
            raise ValueError(f"not an account key: {key!r}")
        return int(key[len(prefix) : -len(suffix)])


class SessionKeys:
    """gateway/sessions.py: sessions logged out on their own."""

    @staticmethod
    def revoked(user_id: int, sid: str) -> str:
        """One logged-out session (a string, TTL = the token's remaining life); same slot as
        the account hash."""
        return f"session:revoked:{{{user_id}}}:{sid}"


class UploadKeys:
    """gateway/uploads.py: upload sessions and each owner's index of them (for erasure)."""

    @staticmethod
    def session(photo_id: int) -> str:
        """Hash: the session as JSON and a `completed` flag."""
        return f"upload:{{{photo_id}}}"

    @staticmethod
    def owned(owner_id: int) -> str:
        """Set: the photo ids of the owner's sessions, open or completed."""
        return f"uploads:{{{owner_id}}}"


class RateLimitKeys:
    """gateway/ratelimit.py: `subject` is a pseudonym (a user id, or a keyed HMAC of a text
    subject: gateway/ratelimit.py Pseudonyms), never a username or an address."""

    @staticmethod
    def window(name: str, subject: str) -> str:
        """Zset of the times (ms) of one limit's recent actions by one subject."""
        return f"ratelimit:{name}:{{{subject}}}"

    @staticmethod
    def login(kind: str, subject: str) -> str:
        """Hash {n, until} of failed logins per `kind` of subject ('user' or 'addr')."""
        return f"ratelimit:login:{kind}:{{{subject}}}"


class IdempotencyKeys:
    """gateway/idempotency_store.py: one record per (scope, Idempotency-Key)."""

    @staticmethod
    def record(scope: int | None, key: str) -> str:
        """Per user; registration (no user yet) shares one namespace spread over slots."""
        return f"idem:{{{scope}}}:{key}" if scope is not None else f"idem:{{anon:{key}}}"
