"""The ASGI apps the benchmarks serve: bare ASGI callables and the real gateway.

`raw_app`/`project_app`/`plain_starlette` are the framework benchmark's; `bare_pages` is the bare
baseline of the read benchmarks (bench/bench_feed_read.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.asgi import Dispatcher
from infra.clients import make_redis
from infra.settings import GATEWAY, load_settings
from projections.pages.channel import Channel, channel_of

BODY = orjson.dumps({"status": "ok"})
BARE_PAGE_PREFIX = "bench:bare:"  # + the request's path: the pre-rendered page bare_pages serves
JSON_HEADERS = [(b"content-type", b"application/json")]


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare baseline: the same JSON answer with no framework at all."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


class _Ready:
    @staticmethod
    async def ready() -> bool:
        return True


def project_app() -> Dispatcher:
    """The real gateway app (routes list, metrics middleware, error handlers) serving /healthz."""
    app = create_app(None)
    app.state.deps = _Ready()
    return app


def plain_starlette() -> Starlette:
    """The alternative the dispatcher replaced: a Starlette app with one route (for comparison)."""
    from starlette.responses import Response
    from starlette.routing import Route

    async def health(_r: Any) -> Response:
        return Response(BODY, media_type="application/json")

    return Starlette(routes=[Route("/healthz", health)])


class BarePages:
    """The least a server can do to answer a page read: ONE Redis GET of the page, pre-rendered
    under `BARE_PAGE_PREFIX + path` (query and headers ignored), with the gateway's Redis client
    (redis.asyncio, built by make_redis as the gateway role, same timeout) sent over the same
    pipelined page channel the gateway's page calls use (projections/pages/channel.py: the
    cheapest client this project has, so the baseline is not flattered by a slower one), under
    the gateway's uvicorn settings; 200 with the stored bytes, 404 when nothing is stored for
    the path. A read path that needs no more than that would score 1.0 against it."""

    def __init__(self) -> None:
        self._settings = load_settings().with_(redis_role=GATEWAY)
        self._redis: Redis | None = None
        self._channel: Channel | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self._redis is not None
        key = BARE_PAGE_PREFIX + scope["path"]
        channel = self._channel
        body = await (self._redis.get(key) if channel is None else channel.call("GET", key))
        status, body = (404, b"") if body is None else (200, body)
        headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                timeout_s = self._settings.dependency_timeout_s
                self._redis = make_redis(self._settings, timeout_s=timeout_s)
                self._channel = channel_of(self._redis)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._redis is not None:
                    await self._redis.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def bare_pages() -> BarePages:
    """uvicorn factory (`bench.framework_apps:bare_pages --factory`); settings from the
    environment, as the gateway reads them."""
    return BarePages()
