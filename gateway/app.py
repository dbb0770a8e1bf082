"""The gateway's ASGI app: the explicit routes list, error handlers, metrics and lifespan wiring."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from gateway import routes_accounts as accounts
from gateway.deps import GatewayDeps
from gateway.errors import (
    ApiError,
    api_error_handler,
    error_response,
    method_not_allowed_handler,
    not_found_handler,
)
from gateway.metrics import Metrics, MetricsMiddleware, metrics_endpoint
from gateway.openapi import Op, build_document
from gateway.responses import json_response

Endpoint = Callable[[Request], Awaitable[Response]]
BASE = "/api/v1"

ROUTES: list[tuple[str, str, Endpoint, Op]] = [
    ("POST", "/users", accounts.register, Op(
        "Register an account", {201: "#User: created", 409: "username taken", 422: "invalid field"},
        body="Credentials")),
    ("POST", "/sessions", accounts.create_session, Op(
        "Log in: a bearer token", {200: "token, user_id, expires_at", 401: "wrong credentials"},
        body="Credentials")),
    ("GET", "/users/{user_id}", accounts.get_user, Op(
        "A profile with counts", {200: "#Profile: the profile", 404: "unknown user"})),
    ("GET", "/users/{user_id}/followers", accounts.followers, Op(
        "Followers, newest first", {200: "#UserPage: a page", 404: "unknown user"},
        params=["limit", "cursor"])),
    ("GET", "/users/{user_id}/following", accounts.following, Op(
        "Accounts followed, newest first", {200: "#UserPage: a page", 404: "unknown user"},
        params=["limit", "cursor"])),
    ("POST", "/follow/{user_id}", accounts.follow, Op(
        "Follow (idempotent)", {204: "following", 401: "anonymous", 404: "unknown user",
                                422: "self-follow"}, auth=True)),
    ("DELETE", "/follow/{user_id}", accounts.unfollow, Op(
        "Unfollow (idempotent)", {204: "not following", 401: "anonymous", 404: "unknown user"},
        auth=True)),
]  # fmt: skip


def openapi_document() -> dict[str, Any]:
    return build_document([(m, p, op) for m, p, _, op in ROUTES])


async def healthz(request: Request) -> Response:
    deps: GatewayDeps = request.app.state.deps
    ok = deps.ready()
    return json_response({"status": "ok" if ok else "starting"}, 200 if ok else 503)


async def openapi(_request: Request) -> Response:
    return json_response(openapi_document())


async def unexpected_error(_request: Request, exc: Exception) -> Response:
    return error_response(500, "internal", f"unexpected {type(exc).__name__}; it was logged")


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await not_found_handler(request, exc)
    if exc.status_code == 405:
        return await method_not_allowed_handler(request, exc)
    return error_response(exc.status_code, "http_error", str(exc.detail))


def create_app(
    deps: GatewayDeps | None,
    lifespan: Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    metrics = Metrics()
    api = [Route(path, endpoint, methods=[method]) for method, path, endpoint, _ in ROUTES]
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint),
            Route("/openapi.json", openapi),
            Mount(BASE, routes=api),
        ],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_exception,
            Exception: unexpected_error,
        },
        lifespan=lifespan or _no_lifespan,
    )
    if deps is not None:
        app.state.deps = deps  # else the lifespan sets it before the first request
    app.state.metrics = metrics
    return app


@contextlib.asynccontextmanager
async def _no_lifespan(_app: Starlette) -> AsyncIterator[None]:
    yield
