"""The command side of accounts: username reservations and password hashes, never in the log.

This is not a projection (secrets cannot be replayed); it is the write model that makes usernames
unique at command time and answers "does this account exist" without waiting for a projection.
Every write is fsynced before it is acknowledged (infra.keystore.fsynced), and `photofeed backup`
copies the accounts (infra/backup.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.exceptions
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from gateway.keys import AccountKeys
from infra.keystore import fsynced

# OWASP's argon2id minimum (19 MiB, t=2, p=1): ~20 ms per hash here, run off the event loop
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# verifying an unknown username costs the same as a known one, so timing does not reveal it
_DUMMY_HASH = HASHER.hash("photofeed-timing-equaliser")


@dataclass(frozen=True, slots=True)
class Account:
    user_id: int
    username: str
    password_hash: str
    changed_at: int = 0  # ms of the last credential write: the session epoch (gateway/tokens.py)


class AccountStore(Protocol):
    """Unique usernames and credentials; `reserve` is atomic across gateway processes."""

    async def reserve(self, account: Account) -> bool: ...

    async def release(self, account: Account) -> None: ...

    async def by_username(self, username: str) -> Account | None: ...

    async def exists(self, user_id: int) -> bool: ...

    async def forget(self, user_id: int) -> None: ...

    async def by_id(self, user_id: int) -> Account | None: ...

    async def change_password(self, account: Account, new_hash: str) -> int | None: ...

    async def revoke_sessions(self, user_id: int) -> int | None: ...

    async def begin_erasure(self, user_id: int) -> bool: ...

    async def cancel_erasure(self, user_id: int) -> None: ...


def verify_hash(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no stored hash, the same work against a dummy, then
    False. CPU-bound (~20 ms): call it off the event loop (gateway/passwords.py)."""
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """For tools and tests; the gateway hashes in its own bounded pool (gateway/passwords.py)."""
    return await asyncio.to_thread(HASHER.hash, password)


async def check_password(stored_hash: str | None, password: str) -> bool:
    """For tools and tests; the gateway verifies in its own bounded pool."""
    return await asyncio.to_thread(verify_hash, stored_hash, password)


# The key layout infra/backup.py reads (through photofeed/backup_cli.py): the key scheme's own
# (gateway/keys.py AccountKeys), under the names the backup layout takes.
# hash fields; CHANGED_AT (ms) rises with every credential write: a restore never goes back,
# and it is the session epoch every token carries (a change revokes all earlier tokens)
USERNAME, PASSWORD_HASH, CHANGED_AT = "username", "password_hash", "changed_at"
ERASING = "erasing"  # set while DELETE /users/me runs: no token, login or append is accepted


# KEYS: name key, account key. ARGV: user id, then the values of the three fields.
_RESERVE = f"""
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('HSET', KEYS[2], '{USERNAME}', ARGV[2], '{PASSWORD_HASH}', ARGV[3],
             '{CHANGED_AT}', ARGV[4])
  return 1
end
return 0
"""
_DELETE = "return redis.call('DEL', unpack(KEYS))"  # one write, on the caller's connection
# Move CHANGED_AT on (to now ms, and always up), optionally replacing the password hash only
# when it still is ARGV[3]. KEYS: account key. ARGV: now ms, new hash or '', expected hash or ''.
# Returns the new CHANGED_AT (decimal text); false when the account is gone, being erased, or
# its hash is no longer the expected one.
_BUMP = f"""
local f = redis.call('HMGET', KEYS[1], '{USERNAME}', '{ERASING}', '{PASSWORD_HASH}', '{CHANGED_AT}')
if not f[1] or f[2] then return false end
if ARGV[3] ~= '' and f[3] ~= ARGV[3] then return false end
local changed = string.format('%.0f', math.max(tonumber(ARGV[1]), (tonumber(f[4]) or 0) + 1))
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], '{PASSWORD_HASH}', ARGV[2], '{CHANGED_AT}', changed)
else
  redis.call('HSET', KEYS[1], '{CHANGED_AT}', changed)
end
return changed
"""
# Undo a password change Valkey could not fsync: back to the old hash and CHANGED_AT, only if
# nothing changed since. KEYS: account key. ARGV: the change's CHANGED_AT and hash, the old ones.
_UNDO = f"""
local f = redis.call('HMGET', KEYS[1], '{CHANGED_AT}', '{PASSWORD_HASH}')
if f[1] == ARGV[1] and f[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], '{CHANGED_AT}', ARGV[3], '{PASSWORD_HASH}', ARGV[4])
end
"""
# KEYS: account key. ARGV: '1' to mark the erasure begun, '0' to take the mark back.
# Returns 1 when the account exists.
_ERASING = f"""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], '{ERASING}', '1')
else redis.call('HDEL', KEYS[1], '{ERASING}') end
return 1
"""


class RedisAccountStore:
    """`AccountKeys.name(username)` -> user id; `AccountKeys.account(user_id)` hash. Every
    write is fsynced before it returns (NotDurable, a 503 at the gateway, otherwise)."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self._r = redis
        self._clock = clock
        self._reserve = redis.register_script(_RESERVE)
        self._delete = redis.register_script(_DELETE)
        self._bump = redis.register_script(_BUMP)
        self._erasing = redis.register_script(_ERASING)
        self._undo = redis.register_script(_UNDO)

    async def reserve(self, account: Account) -> bool:
        """Reserve the username and store the credentials; False when the name is taken. A
        reservation Valkey cannot fsync is undone (best effort) before NotDurable is raised, so
        the 503 means "nothing happened" and a retry is not refused as a taken name."""
        keys = [AccountKeys.name(account.username), AccountKeys.account(account.user_id)]
        args: list[str | int] = [
            account.user_id, account.username, account.password_hash, int(self._clock() * 1000),
        ]  # fmt: skip
        async with self._r.client() as conn:
            if not await self._reserve(keys, args, client=conn):
                return False
            try:
                await fsynced(conn)
            except redis.exceptions.RedisError:
                with contextlib.suppress(redis.exceptions.RedisError):
                    await self._delete(keys)
                raise
        return True

    async def release(self, account: Account) -> None:
        """Undo a reservation (its command was rejected), fsynced."""
        await self._delete_fsynced(
            [AccountKeys.name(account.username), AccountKeys.account(account.user_id)]
        )

    async def by_username(self, username: str) -> Account | None:
        """The account, None when the name is free or its account is being erased."""
        raw_id = await self._r.get(AccountKeys.name(username))
        return None if raw_id is None else await self.by_id(int(raw_id))

    async def by_id(self, user_id: int) -> Account | None:
        """The account, None when there is none or it is being erased."""
        name, stored, changed, erasing = await self._r.hmget(
            AccountKeys.account(user_id), [USERNAME, PASSWORD_HASH, CHANGED_AT, ERASING]
        )
        if name is None or stored is None or erasing is not None:
            return None
        return Account(user_id, _text(name), _text(stored), int(changed or 0))

    async def change_password(self, account: Account, new_hash: str) -> int | None:
        """Replace the hash if it still is `account`'s and move CHANGED_AT on (which revokes
        every token issued before), fsynced; the new CHANGED_AT, or None when the account is
        gone, being erased or changed meanwhile (nothing written). A change Valkey cannot fsync
        is undone (best effort) before NotDurable is raised: the 503 means "nothing happened"
        and a retry with the same passwords works."""
        key = AccountKeys.account(account.user_id)
        now_ms = int(self._clock() * 1000)
        async with self._r.client() as conn:
            changed = await self._bump([key], [now_ms, new_hash, account.password_hash],
                                       client=conn)  # fmt: skip
            if changed is None:
                return None
            try:
                await fsynced(conn)
            except redis.exceptions.RedisError:
                with contextlib.suppress(redis.exceptions.RedisError):
                    await self._undo([key], [_text(changed), new_hash, account.changed_at,
                                             account.password_hash])  # fmt: skip
                raise
        return int(changed)

    async def revoke_sessions(self, user_id: int) -> int | None:
        """Move CHANGED_AT on, fsynced: every token issued before is revoked. The new value
        (tokens issued from now carry it), None when the account is gone or being erased.
        A revocation Valkey cannot fsync stays in force (NotDurable is raised; retry)."""
        now_ms = int(self._clock() * 1000)
        async with self._r.client() as conn:
            changed = await self._bump(
                [AccountKeys.account(user_id)], [now_ms, "", ""], client=conn
            )
            if changed is None:
                return None
            await fsynced(conn)
        return int(changed)

    async def begin_erasure(self, user_id: int) -> bool:
        """Mark the account as being erased, fsynced: from now its tokens, logins and appends
        are refused (gateway/sessions.py). False when there is no account."""
        return await self._mark_erasing(user_id, True)

    async def cancel_erasure(self, user_id: int) -> None:
        """Take the mark back (the erasure request could not be appended), fsynced."""
        await self._mark_erasing(user_id, False)

    async def _mark_erasing(self, user_id: int, erasing: bool) -> bool:
        async with self._r.client() as conn:
            found = await self._erasing([AccountKeys.account(user_id)], ["1" if erasing else "0"],
                                        client=conn)  # fmt: skip
            if found:
                await fsynced(conn)
        return bool(found)

    async def exists(self, user_id: int) -> bool:
        return bool(await self._r.exists(AccountKeys.account(user_id)))

    async def forget(self, user_id: int) -> None:
        """Delete the account (an erasure), fsynced: credentials gone, the username free again."""
        name = await self._r.hget(AccountKeys.account(user_id), USERNAME)
        keys = [AccountKeys.account(user_id)]
        if name is not None:
            keys.append(AccountKeys.name(_text(name)))
        await self._delete_fsynced(keys)

    async def _delete_fsynced(self, keys: list[str]) -> None:
        async with self._r.client() as conn:
            await self._delete(keys, client=conn)
            await fsynced(conn)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
