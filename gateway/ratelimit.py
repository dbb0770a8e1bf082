"""Rate limits in Redis, answered with 429 + Retry-After:

- `RateLimiter`: a sliding window, at most `limit` actions per `window_s` per subject (uploads,
  follows, likes and comments per user; registrations per client address);
- `LoginGuard`: growing waits after consecutive failed logins, per username and per client
  address, reset by a success. Every admitted attempt counts as a failure until its success
  resets the count, so concurrent guesses cannot slip past the threshold together.

Text subjects (usernames, addresses: personal data) appear in keys only as keyed HMACs.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from starlette.requests import Request

from gateway.errors import ApiError
from gateway.keys import RateLimitKeys

# KEYS[1] zset of action times (ms); ARGV: now ms, window ms, limit, a unique member
# Returns 0 when allowed (and records the action), else the ms until a slot frees up.
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""
# KEYS[1] hash {n: attempts counted since the last success, until: ms}. ARGV: now ms, free
# attempts, base wait ms, longest wait ms, memory ms. Returns 0 when the attempt may go ahead
# (it is counted, and from the free-th one on the next must wait), else the ms left to wait.
_BACKOFF = """
local now = tonumber(ARGV[1])
local wait_until = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
if wait_until > now then return wait_until - now end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free, base, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
if n >= free then
  wait = math.min(cap, base * 2 ^ math.min(n - free, 40))
  redis.call('HSET', KEYS[1], 'until', string.format('%.0f', now + wait))
end
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', wait + tonumber(ARGV[5])))
return 0
"""
LOGIN_MEMORY_S = 3600  # failures are forgotten after this long without an attempt (past a wait)


def backoff_s(attempts: int, free: int, base_s: float, cap_s: float) -> float:
    """The wait _BACKOFF imposes after `attempts` counted attempts (its pure twin, for tests)."""
    if attempts < free:
        return 0.0
    return float(min(cap_s, base_s * 2 ** min(attempts - free, 40)))


def too_many(wait_s: int, message: str) -> ApiError:
    return ApiError(429, "rate_limited", f"{message}; retry in {wait_s} s",
                    {"Retry-After": str(wait_s)})  # fmt: skip


def client_address(request: Request) -> str:
    """The client's address as uvicorn reports it: the peer, or X-Forwarded-For when the peer
    is a trusted proxy (uvicorn's FORWARDED_ALLOW_IPS, loopback by default)."""
    return request.client.host if request.client else "unknown"


class Pseudonyms:
    """Keyed HMACs of text subjects: stable per secret, meaningless without it."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def of(self, subject: int | str) -> str:
        if isinstance(subject, int):
            return str(subject)  # user ids are pseudonymous already
        return hmac.new(self._secret, subject.encode(), hashlib.sha256).hexdigest()[:32]


class RateLimiter:
    def __init__(
        self, redis: Redis, name: str, limit: int, window_s: float,
        pseudonyms: Pseudonyms | None = None,
    ) -> None:  # fmt: skip
        self._script = redis.register_script(_SLIDING_WINDOW)
        self._name = name
        self.limit = limit
        self.window_s = window_s
        self._window_ms = int(window_s * 1000)
        self._pseudonyms = pseudonyms or Pseudonyms(b"")

    async def acquire(self, subject: int | str) -> int:
        """0 when the action may go ahead (it is counted); else seconds to wait (Retry-After)."""
        now = time.time_ns() // 1_000_000
        wait_ms = await self._script(
            [RateLimitKeys.window(self._name, self._pseudonyms.of(subject))],
            [now, self._window_ms, self.limit, uuid.uuid4().hex],
        )
        return math.ceil(int(wait_ms) / 1000)

    async def enforce(self, subject: int | str, what: str) -> None:
        """Count the action, or raise 429 + Retry-After: "at most {limit} {what} per ..."."""
        wait_s = await self.acquire(subject)
        if wait_s:
            raise too_many(wait_s, f"at most {self.limit} {what} per {_span(self.window_s)}")


@dataclass(frozen=True, slots=True)
class Backoff:
    free: int  # attempts before waits begin (>= 1)
    base_s: float  # the first wait; each further attempt doubles it
    cap_s: float  # the longest wait


class LoginGuard:
    """Login attempts (and password confirmations) per username and per client address."""

    def __init__(
        self, redis: Redis, pseudonyms: Pseudonyms, per_user: Backoff, per_address: Backoff
    ) -> None:
        self._r = redis
        self._script = redis.register_script(_BACKOFF)
        self._pseudonyms = pseudonyms
        self._rules = {"user": per_user, "addr": per_address}

    async def admit(self, username: str, address: str) -> None:
        """Count an attempt, or raise 429 + Retry-After while either subject must wait. Call
        `succeeded` once the password matched. An attempt refused for one subject counts for
        neither (the username's count is given back when the address must wait)."""
        if wait_ms := await self._count("user", username):
            raise too_many(math.ceil(wait_ms / 1000), "too many failed logins for this account")
        if wait_ms := await self._count("addr", address):
            await self._r.hincrby(self._key("user", username), "n", -1)
            raise too_many(math.ceil(wait_ms / 1000), "too many failed logins from this address")

    async def _count(self, kind: str, subject: str) -> int:
        """0 when counted, else the ms left to wait (nothing counted)."""
        rule = self._rules[kind]
        return int(await self._script(
            [self._key(kind, subject)],
            [time.time_ns() // 1_000_000, rule.free, int(rule.base_s * 1000),
             int(rule.cap_s * 1000), LOGIN_MEMORY_S * 1000],
        ))  # fmt: skip

    async def succeeded(self, username: str, address: str) -> None:
        """Reset both counts (the password matched)."""
        await self._r.delete(self._key("user", username))
        await self._r.delete(self._key("addr", address))

    def _key(self, kind: str, subject: str) -> str:
        return RateLimitKeys.login(kind, self._pseudonyms.of(subject))


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit the routes apply besides uploads (GatewayDeps.upload_limit)."""

    login: LoginGuard  # POST /sessions, and password confirmations
    register: RateLimiter  # POST /users, per client address
    follow: RateLimiter  # follow and unfollow, per user
    like: RateLimiter  # like and unlike, per user
    comment: RateLimiter  # new comments, per user


def _span(window_s: float) -> str:
    names = {60: "minute", 3600: "hour", 86400: "day"}
    return names.get(int(window_s), f"{window_s:g} s")
