"""The command side of accounts: username reservations and password hashes, never in the log.

This is not a projection (secrets cannot be replayed); it is the write model that makes usernames
unique at command time and answers "does this account exist" without waiting for a projection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

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


_RESERVE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('HSET', KEYS[2], 'username', ARGV[2], 'password_hash', ARGV[3])
  return 1
end
return 0
"""


class RedisAccountStore:
    """Keys: `account:name:<username>` -> user id; `account:{<user_id>}` hash."""

    def __init__(self, redis: Redis) -> None:
        self._r = redis
        self._reserve = redis.register_script(_RESERVE)

    @staticmethod
    def _name_key(username: str) -> str:
        return f"account:name:{username}"

    @staticmethod
    def _id_key(user_id: int) -> str:
        return f"account:{{{user_id}}}"

    async def reserve(self, account: Account) -> bool:
        keys = [self._name_key(account.username), self._id_key(account.user_id)]
        args: list[str | int] = [account.user_id, account.username, account.password_hash]
        return bool(await self._reserve(keys, args))

    async def release(self, account: Account) -> None:
        await self._r.delete(self._name_key(account.username), self._id_key(account.user_id))

    async def by_username(self, username: str) -> Account | None:
        raw_id = await self._r.get(self._name_key(username))
        if raw_id is None:
            return None
        user_id = int(raw_id)
        stored = await self._r.hget(self._id_key(user_id), "password_hash")
        if stored is None:
            return None
        return Account(user_id, username, stored.decode() if isinstance(stored, bytes) else stored)

    async def exists(self, user_id: int) -> bool:
        return bool(await self._r.exists(self._id_key(user_id)))

    async def forget(self, user_id: int) -> None:
        """Delete the account (an erasure): credentials gone, the username free again."""
        name = await self._r.hget(self._id_key(user_id), "username")
        keys = [self._id_key(user_id)]
        if name is not None:
            keys.append(self._name_key(name.decode() if isinstance(name, bytes) else name))
        await self._r.delete(*keys)
