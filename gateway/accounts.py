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


class AccountStore(Protocol):
    """Unique usernames and credentials; `reserve` is atomic across gateway processes."""

    async def reserve(self, account: Account) -> bool: ...

    async def release(self, account: Account) -> None: ...

    async def by_username(self, username: str) -> Account | None: ...

    async def exists(self, user_id: int) -> bool: ...

    async def forget(self, user_id: int) -> None: ...


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)


async def check_password(stored_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


# Key names, the only place (infra/backup.py reads them through photofeed/backup_cli.py).
ACCOUNT_KEYS = "account:{*}"  # SCAN MATCH pattern of every account hash (not the name keys)
# hash fields; CHANGED_AT (ms) rises with every credential write: a restore never goes back
USERNAME, PASSWORD_HASH, CHANGED_AT = "username", "password_hash", "changed_at"


def account_key(user_id: int) -> str:
    """The account hash: username, password_hash, changed_at."""
    return f"account:{{{user_id}}}"


def name_key(username: str) -> str:
    """The username reservation: the owner's user id."""
    return f"account:name:{username}"


def user_id_of(key: str) -> int:
    """The user id in an `account_key`; ValueError for any other key."""
    prefix, suffix = "account:{", "}"
    if not (key.startswith(prefix) and key.endswith(suffix)):
        raise ValueError(f"not an account key: {key!r}")
    return int(key[len(prefix) : -len(suffix)])


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


class RedisAccountStore:
    """`name_key(username)` -> user id; `account_key(user_id)` hash. Every write is fsynced
    before it returns (NotDurable, a 503 at the gateway, otherwise)."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self._r = redis
        self._clock = clock
        self._reserve = redis.register_script(_RESERVE)
        self._delete = redis.register_script(_DELETE)

    async def reserve(self, account: Account) -> bool:
        """Reserve the username and store the credentials; False when the name is taken. A
        reservation Valkey cannot fsync is undone (best effort) before NotDurable is raised, so
        the 503 means "nothing happened" and a retry is not refused as a taken name."""
        keys = [name_key(account.username), account_key(account.user_id)]
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
        await self._delete_fsynced([name_key(account.username), account_key(account.user_id)])

    async def by_username(self, username: str) -> Account | None:
        raw_id = await self._r.get(name_key(username))
        if raw_id is None:
            return None
        user_id = int(raw_id)
        stored = await self._r.hget(account_key(user_id), PASSWORD_HASH)
        if stored is None:
            return None
        return Account(user_id, username, stored.decode() if isinstance(stored, bytes) else stored)

    async def exists(self, user_id: int) -> bool:
        return bool(await self._r.exists(account_key(user_id)))

    async def forget(self, user_id: int) -> None:
        """Delete the account (an erasure), fsynced: credentials gone, the username free again."""
        name = await self._r.hget(account_key(user_id), USERNAME)
        keys = [account_key(user_id)]
        if name is not None:
            keys.append(name_key(name.decode() if isinstance(name, bytes) else name))
        await self._delete_fsynced(keys)

    async def _delete_fsynced(self, keys: list[str]) -> None:
        async with self._r.client() as conn:
            await self._delete(keys, client=conn)
            await fsynced(conn)
