"""Who is calling: the bearer token on the request, verified by the TokenSigner."""

from __future__ import annotations

import time

from starlette.requests import Request

from gateway.deps import GatewayDeps
from gateway.errors import unauthorized
from gateway.tokens import InvalidToken


def deps_of(request: Request) -> GatewayDeps:
    deps: GatewayDeps = request.app.state.deps
    return deps


def viewer(request: Request) -> int | None:
    """The caller's user id, None when anonymous; a bad token is 401, never silently anonymous."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("use Authorization: Bearer <token>")
    try:
        return deps_of(request).tokens.verify(token.strip(), int(time.time()))
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None


def require_user(request: Request) -> int:
    user = viewer(request)
    if user is None:
        raise unauthorized()
    return user
