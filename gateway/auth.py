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
from gateway.errors import ApiError, account_erased, unauthorized
from gateway.tokens import Claims, InvalidToken

Endpoint = Callable[[Request], Awaitable[Response]]
_SESSION = "photofeed.session"  # request scope: the checked Claims, or None when anonymous
_PENDING = "photofeed.session.pending"  # True while a deferring route has not checked it yet
_DEPS = "photofeed.deps"  # request scope: app.state.deps
SESSION_IN_CALL: set[Endpoint] = set()  # routes that check the session in their own call


def session_in_call(endpoint: Endpoint) -> Endpoint:
    """Mark a route that checks the session inside its one server-side call (the pages in
    gateway/routes_posts.py): `authenticated` then defers the check to it."""
    SESSION_IN_CALL.add(endpoint)
    return endpoint


def deps_of(request: Request) -> GatewayDeps:
    """The app's deps, looked up once per request (the wrappers and the route each ask)."""
    scope = request.scope
    deps: GatewayDeps | None = scope.get(_DEPS)
    if deps is None:
        deps = scope[_DEPS] = scope["app"].state.deps
    return deps


async def authenticate(request: Request, defer: bool = False) -> Claims | None:
    """Verify the bearer token (signature, expiry, then its session: one Valkey round trip)
    and remember the outcome for the request; None when there is no Authorization header.

    `defer`: the route checks the session inside its own server-side call (one round trip for
    the whole request): the claims are kept pending until the route settles them
    (`settle_session`), and `authenticated` checks any it left pending before answering."""
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
    request.scope[_SESSION] = claims
    if defer:
        request.scope[_PENDING] = True
        return claims
    _refuse(await deps.sessions.check(claims))
    return claims


def _refuse(verdict: str) -> None:
    """401 unless the session stands ('ok')."""
    if verdict == "gone":
        raise account_erased(challenge=True)
    if verdict != "ok":
        raise ApiError(401, "session_revoked", "this session was logged out; log in again",
                       {"WWW-Authenticate": "Bearer"})  # fmt: skip


def pending_session(request: Request) -> Claims | None:
    """The verified claims whose session this route checks in its own call; None when there
    is nothing to check (anonymous, or already checked)."""
    if not request.scope.get(_PENDING):
        return None
    claims: Claims = request.scope[_SESSION]
    return claims


def settle_session(request: Request, verdict: str) -> None:
    """The verdict of the route's own session check: 401 unless 'ok'."""
    if request.scope.pop(_PENDING, False):
        _refuse(verdict)


async def check_pending_session(request: Request) -> None:
    """Check a pending session now (a deferring route's fallback path, or a route that
    answered without settling it)."""
    if request.scope.pop(_PENDING, False):
        _refuse(await deps_of(request).sessions.check(request.scope[_SESSION]))


def authenticated(endpoint: Endpoint, defer: bool = False) -> Endpoint:
    """`endpoint` behind `authenticate`; with `defer`, the route checks the session in its own
    call, and whatever it leaves unchecked is checked before anything is answered (a revoked
    session gets its 401, never the route's answer or error)."""

    async def guarded(request: Request) -> Response:
        await authenticate(request, defer)
        try:
            response = await endpoint(request)
        except ApiError:
            await check_pending_session(request)
            raise
        await check_pending_session(request)
        return response

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
