"""Sessions: log in, change the password, log out here or everywhere.

Every password check runs in the bounded argon2 pool (gateway/passwords.py) behind the login
backoff (gateway/ratelimit.py LoginGuard): per username and per client address, growing waits
after consecutive failures, reset by a success. Confirmations on a live session (password
change, erasure: gateway/route_kit.py confirm_password) count against the same username as
logins, so a stolen token cannot be used to guess the password faster than the login route
allows.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import deps_of, require_session
from gateway.deps import GatewayDeps
from gateway.errors import ApiError, account_erased
from gateway.ratelimit import client_address
from gateway.responses import json_response, no_content, rfc3339
from gateway.route_kit import confirm_password, live_account
from gateway.validation import json_object, password_field, username_field


async def create_session(request: Request) -> Response:
    """200 with a token for a new session; 401 for a wrong username or password (no hint which);
    429 while the username or the address must wait; 503 when the argon2 pool is full."""
    deps = deps_of(request)
    body = await json_object(request)
    username, password = username_field(body), password_field(body)
    address = client_address(request)
    await deps.limits.login.admit(username, address)
    account = await deps.accounts.by_username(username)
    if not await deps.passwords.verify(account.password_hash if account else None, password):
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    assert account is not None
    await deps.limits.login.succeeded(username, address)
    return _token_answer(deps, account.user_id, account.changed_at)


async def change_password(request: Request) -> Response:
    """Replace the password (durably: fsynced, `changed_at` moved on), which revokes every
    session of the account; 200 with a fresh token for the caller. 403 wrong current password."""
    deps = deps_of(request)
    me = require_session(request).user_id
    body = await json_object(request)
    current = password_field(body, "current_password")
    new = password_field(body, "new_password")
    account = await live_account(deps, me)
    await confirm_password(request, deps, account, current)
    changed = await deps.accounts.change_password(account, await deps.passwords.hash(new))
    if changed is None:
        raise ApiError(409, "credentials_changed", "the account changed meanwhile; retry")
    return _token_answer(deps, me, changed)


async def logout_current(request: Request) -> Response:
    """Revoke the caller's token only (its session id), durably; 204."""
    deps = deps_of(request)
    await deps.sessions.revoke(require_session(request))
    return no_content()


async def logout_everywhere(request: Request) -> Response:
    """Revoke every token of the caller's account (this one too), durably; 204."""
    deps = deps_of(request)
    if await deps.accounts.revoke_sessions(require_session(request).user_id) is None:
        raise account_erased(challenge=True)
    return no_content()


def _token_answer(deps: GatewayDeps, user_id: int, epoch: int) -> Response:
    token, expires = deps.tokens.issue(user_id, int(deps.clock()), epoch=epoch)
    answer: dict[str, Any] = {"token": token, "user_id": str(user_id),
                              "expires_at": rfc3339(expires * 1000)}  # fmt: skip
    return json_response(answer)
