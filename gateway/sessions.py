"""Which sessions still stand, asked on every authenticated request, and the append-path guard.

A token (gateway/tokens.py) stands while (1) its account exists and is not being erased, (2) its
epoch equals the account's `changed_at` (a password change or "log out everywhere" moves it on)
and (3) its session was not logged out on its own (a revocation key that lives as long as the
token could). One script call answers all three: one Valkey round trip per authenticated request,
no cache, so a revocation holds on every gateway from the moment it is acknowledged (a per-process
cache would save ~0.1 ms and leave revoked tokens working for its lifetime).

`LiveActorsLog` checks the actor of every event again right before it is appended: an erased or
erasing account appends nothing, whatever its requests had passed before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from redis.asyncio import Redis

from gateway.accounts import CHANGED_AT, ERASING, USERNAME
from gateway.keys import AccountKeys, SessionKeys
from gateway.tokens import Claims
from infra.event_log import EventLog
from infra.keystore import ErasedUser, fsynced
from infra.positions import LogPosition
from schemas import events as ev

Verdict = Literal["ok", "revoked", "gone"]


# KEYS: account hash, the session's revocation key. ARGV: the token's epoch.
_CHECK = f"""
local f = redis.call('HMGET', KEYS[1], '{USERNAME}', '{ERASING}', '{CHANGED_AT}')
if not f[1] or f[2] then return 'gone' end
if (f[3] or '0') ~= ARGV[1] then return 'revoked' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'revoked' end
return 'ok'
"""
# KEYS: account hash. Returns 0 none, 1 live, 2 being erased.
_STATE = f"""
local f = redis.call('HMGET', KEYS[1], '{USERNAME}', '{ERASING}')
if not f[1] then return 0 end
if f[2] then return 2 end
return 1
"""


class RedisSessions:
    """The session half of auth; the account hash itself is gateway/accounts.py's."""

    def __init__(self, redis: Redis, clock: Callable[[], float]) -> None:
        self._r = redis
        self._clock = clock
        self._check = redis.register_script(_CHECK)
        self._state = redis.register_script(_STATE)

    async def check(self, claims: Claims) -> Verdict:
        """Whether the session of a verified token still stands: one round trip."""
        keys = [
            AccountKeys.account(claims.user_id),
            SessionKeys.revoked(claims.user_id, claims.sid),
        ]
        verdict = await self._check(keys, [claims.epoch])
        text = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
        return "ok" if text == "ok" else "revoked" if text == "revoked" else "gone"

    async def revoke(self, claims: Claims) -> None:
        """Log this session out, fsynced; the key outlives the token by a second at most."""
        ttl_s = max(1, claims.expires - int(self._clock()) + 1)
        async with self._r.client() as conn:
            await conn.set(SessionKeys.revoked(claims.user_id, claims.sid), 1, ex=ttl_s)
            await fsynced(conn)

    async def actor_state(self, user_id: int) -> int:
        """0: no account; 1: live; 2: being erased."""
        return int(await self._state([AccountKeys.account(user_id)], []))


class LiveActorsLog:
    """An EventLog that appends only for live accounts: ErasedUser (a 401 at the gateway) when
    an actor's account is gone or being erased, except that an account being erased may append
    its own AccountErasureRequested. Each distinct actor costs one round trip (commands have
    one). A request that passed this check a moment before the erasure began may still land
    after it: the log and Valkey share no lock; consumers drop events of erased users."""

    def __init__(self, log: EventLog, sessions: RedisSessions) -> None:
        self._log = log
        self._sessions = sessions

    async def append(self, *events: ev.Event) -> Sequence[LogPosition]:
        for actor in sorted({e.actor_id for e in events}):
            state = await self._sessions.actor_state(actor)
            erasing_itself = state == 2 and all(
                isinstance(e, ev.AccountErasureRequested) for e in events if e.actor_id == actor
            )
            if state != 1 and not erasing_itself:
                raise ErasedUser(actor)
        return await self._log.append(*events)
