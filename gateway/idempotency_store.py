"""Idempotency records in Valkey (command side, never in the log): one hash per (scope, key)
(named by gateway/keys.py IdempotencyKeys).

A record moves `pending` -> `done` (the first answer, kept for the TTL) or `failed` (a 5xx: the
command may or may not have happened). It always keeps the ids reserved by the first attempt,
so a retry after a failure or after a crash (the pending lease ran out) issues the very same
events, which projections apply once. A 4xx changed nothing, so its record is dropped and the
key can be used again. Stored bodies are sealed with their owner's data key (schemas/sealing),
so erasing the owner erases them too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from redis.asyncio import Redis

from schemas.sealing import seal, unseal

LEASE_S = 30  # a pending claim is trusted this long: > the slowest keyed request once its body is
# read (a direct upload's S3 put plus a few calls, each bounded by dependency_timeout_s)

# KEYS[1] record. ARGV: fingerprint, reserved ids, claim token, lease ms, ttl s.
# -> {'new'|'retry', ids} | {'busy', ms left} | {'mismatch'}
#    | {'done', status, headers, body, owner}
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('HMGET', KEYS[1], 'fp', 'state', 'lease', 'ids', 'status', 'headers', 'body',
                      'owner')
if not r[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'pending', 'ids', ARGV[2], 'token', ARGV[3],
             'lease', now + tonumber(ARGV[4]))
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return {'new', ARGV[2]}
end
if r[1] ~= ARGV[1] then return {'mismatch'} end
if r[2] == 'done' then return {'done', r[5], r[6], r[7], r[8]} end
local left = tonumber(r[3] or '0') - now
if r[2] == 'pending' and left > 0 then return {'busy', tostring(left)} end
redis.call('HSET', KEYS[1], 'state', 'pending', 'token', ARGV[3], 'lease', now + tonumber(ARGV[4]))
return {'retry', r[4]}
"""
# KEYS[1] record. ARGV: claim token, status, headers, body, owner, ttl s. Only the claim's holder.
_FINISH = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4],
           'owner', ARGV[5])
redis.call('HDEL', KEYS[1], 'token', 'lease')
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""
# KEYS[1] record. ARGV: claim token, 'failed' (keep the ids) or 'drop' (forget the key).
_SETTLE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if ARGV[2] == 'drop' then redis.call('DEL', KEYS[1]) return 1 end
redis.call('HSET', KEYS[1], 'state', 'failed')
redis.call('HDEL', KEYS[1], 'token', 'lease')
return 1
"""


class KeySource(Protocol):
    """Per-user data keys (infra/keystore.RedisKeyStore); raises ErasedUser once erased."""

    async def key_for(self, user_id: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """`new`/`retry`: run the command with `ids`; `done`: answer `answer`; `busy`: another
    attempt holds the key for `wait_ms` more; `mismatch`: the key was used for another body."""

    outcome: Literal["new", "retry", "done", "busy", "mismatch"]
    ids: tuple[int, ...] = ()
    answer: Answer | None = None
    wait_ms: int = 0


class RedisIdempotencyStore:
    def __init__(self, redis: Redis, keys: KeySource, ttl_s: int, lease_s: int = LEASE_S) -> None:
        self._keys = keys
        self._ttl_s = ttl_s
        self._lease_ms = lease_s * 1000
        self._claim = redis.register_script(_CLAIM)
        self._finish = redis.register_script(_FINISH)
        self._settle = redis.register_script(_SETTLE)

    async def claim(self, record: str, fingerprint: str, ids: Sequence[int], token: str) -> Claim:
        """Take the key for one attempt holding `token`, or say why not (see Claim)."""
        raw = await self._claim(
            [record], [fingerprint, ",".join(map(str, ids)), token, self._lease_ms, self._ttl_s]
        )
        outcome = _text(raw[0])
        if outcome in ("new", "retry"):
            ids = tuple(int(i) for i in _text(raw[1]).split(",") if i)
            return Claim("new" if outcome == "new" else "retry", ids)
        if outcome == "busy":
            return Claim("busy", wait_ms=int(float(_text(raw[1]))))
        if outcome == "mismatch":
            return Claim("mismatch")
        status, headers, body, owner = raw[1:5]
        plain = await self._open(_text(owner), body)
        return Claim("done", answer=Answer(int(status), json.loads(headers), plain))

    async def finish(self, record: str, token: str, answer: Answer, owner: int | None) -> bool:
        """Keep `answer` for the TTL (sealed for `owner`); False when the claim was lost."""
        body = answer.body
        if owner is not None:
            sealed = seal(await self._keys.key_for(owner), owner, body.decode("latin-1"))
            body = sealed.encode()
        done = await self._finish(
            [record],
            [token, answer.status, json.dumps(answer.headers), body,
             "" if owner is None else str(owner), self._ttl_s],
        )  # fmt: skip
        return bool(done)

    async def fail(self, record: str, token: str) -> None:
        """The attempt may have changed something: keep the ids for a retry."""
        await self._settle([record], [token, "failed"])

    async def drop(self, record: str, token: str) -> None:
        """The attempt changed nothing: forget the key."""
        await self._settle([record], [token, "drop"])

    async def _open(self, owner: str, body: bytes) -> bytes:
        if not owner:
            return body
        user = int(owner)
        return unseal(await self._keys.key_for(user), user, body.decode()).encode("latin-1")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
