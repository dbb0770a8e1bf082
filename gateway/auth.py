"""Who is calling: the bearer token on the request, verified by the TokenSigner, and its session
checked by the session store (gateway/sessions.py) once per request, before the route runs.

Every API route is wrapped by `authenticated` (gateway/app.py); routes then read the caller with
the synchronous `viewer` / `require_user` / `current_session`. A token that is malformed, forged,
expired, revoked, or names an erased account is a 401 on every route, never silently anonymous.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from gateway.deps import GatewayDeps
from gateway.errors import ApiError, unauthorized
from gateway.tokens import Claims, InvalidToken

Endpoint = Callable[[Request], Awaitable[Response]]
_SESSION = "photofeed.session"  # request scope: the checked Claims, or None when anonymous


def deps_of(request: Request) -> GatewayDeps:
    deps: GatewayDeps = request.app.state.deps
    return deps


async def authenticate(request: Request) -> Claims | None:
    """Verify the bearer token (signature, expiry, then its session: one Valkey round trip)
    and remember the outcome for the request; None when there is no Authorization header."""
    header = request.headers.get("authorization")
    if header is None:
        request.scope[_SESSION] = None
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("use Authorization: Bearer <token>")
    deps = deps_of(request)
    try:
        claims = deps.tokens.claims(token.strip(), int(time.time()))
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None
    verdict = await deps.sessions.check(claims)
    if verdict == "gone":
        raise ApiError(401, "account_erased", "this account was erased",
                       {"WWW-Authenticate": "Bearer"})  # fmt: skip
    if verdict == "revoked":
        raise ApiError(401, "session_revoked", "this session was logged out; log in again",
                       {"WWW-Authenticate": "Bearer"})  # fmt: skip
    request.scope[_SESSION] = claims
    return claims


def authenticated(endpoint: Endpoint) -> Endpoint:
    """`endpoint` behind `authenticate`."""

    async def guarded(request: Request) -> Response:
        await authenticate(request)
        return await endpoint(request)

    guarded.__doc__ = endpoint.__doc__
    return guarded


def current_session(request: Request) -> Claims | None:
    """The checked session of the request; None when anonymous."""
    if _SESSION not in request.scope:
        raise RuntimeError("the route is not wrapped by gateway.auth.authenticated")
    claims: Claims | None = request.scope[_SESSION]
    return claims


def viewer(request: Request) -> int | None:
    """The caller's user id, None when anonymous."""
    claims = current_session(request)
    return None if claims is None else claims.user_id


def require_user(request: Request) -> int:
    return require_session(request).user_id


def require_session(request: Request) -> Claims:
    claims = current_session(request)
    if claims is None:
        raise unauthorized()
    return claims
