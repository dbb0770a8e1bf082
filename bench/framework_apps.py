"""The two ASGI apps the framework benchmark serves: a bare ASGI callable and the real gateway."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.asgi import Dispatcher

BODY = orjson.dumps({"status": "ok"})


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
