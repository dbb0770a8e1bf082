"""Schemathesis hooks for tests/e2e/test_openapi_schemathesis.py, loaded by the `st` process
it starts (SCHEMATHESIS_HOOKS names this module; the test passes the rest in ST_* variables).

- Every request carries a real bearer token: the test's main account's, except the operations
  that end sessions (SESSION_ENDING), which get a fresh session of a spare account per request
  (a login each), so logging out everywhere cannot revoke the main token in the middle of the
  run. Password changes and erasure use the main token: its password is random, so no example
  or generated value matches it.
- A valid Idempotency-Key ends in a unique suffix: a client sends one key per intended command
  (the document says so), while generated keys repeat across different bodies, which the
  gateway rightly answers with 422 idempotency_key_reused. Invalid keys stay invalid, and a
  valid key keeps its length (a 255-character one stays 255).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import schemathesis
from schemathesis import AuthContext, Case, HookContext

from gateway.idempotency import MAX_KEY_CHARS

BASE = os.environ.get("ST_API_BASE", "")
SESSION_ENDING = ("DELETE /sessions", "DELETE /sessions/current")
KEY_HEADER = "Idempotency-Key"
SUFFIX_CHARS = 33  # "-" + 32 hex digits


def _bearer(case: Case[Any], token: str) -> None:
    case.headers["Authorization"] = f"Bearer {token}"


@schemathesis.auth().skip_for(name=list(SESSION_ENDING))
class MainAccount:
    """The main account's token (a session that nothing in the run revokes)."""

    def get(self, case: Case[Any], ctx: AuthContext) -> str:
        return os.environ["ST_TOKEN"]

    def set(self, case: Case[Any], data: str, ctx: AuthContext) -> None:
        _bearer(case, data)


@schemathesis.auth(refresh_interval=None).apply_to(name=list(SESSION_ENDING))
class SpareSession:
    """A new session of the spare account for every request (a login, so a run may end them
    all without losing the next)."""

    def get(self, case: Case[Any], ctx: AuthContext) -> str:
        body = {"username": os.environ["ST_SPARE_USER"], "password": os.environ["ST_SPARE_PASS"]}
        answer = httpx.post(f"{BASE}/sessions", json=body, timeout=10)
        answer.raise_for_status()
        token: str = answer.json()["token"]
        return token

    def set(self, case: Case[Any], data: str, ctx: AuthContext) -> None:
        _bearer(case, data)


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """Valid Idempotency-Keys made unique per request (see the module docstring); schemathesis
    re-checks the case afterwards, so its valid/invalid bookkeeping stays right."""
    key = case.headers.get(KEY_HEADER)
    if isinstance(key, str) and _valid_key(key) and len(key) <= MAX_KEY_CHARS:
        case.headers[KEY_HEADER] = (
            f"{key.strip()[: MAX_KEY_CHARS - SUFFIX_CHARS]}-{uuid.uuid4().hex}"
        )


def _valid_key(key: str) -> bool:
    """gateway/idempotency.py `_valid_key`: visible ASCII once stripped."""
    stripped = key.strip()
    return bool(stripped) and all("!" <= c <= "~" for c in stripped)
