"""JSON responses rendered with orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from projections.feeds.cards import rfc3339

__all__ = ["JsonBytes", "json_response", "no_content", "page_json", "rfc3339"]
_JSON_TYPE = (b"content-type", b"application/json")


class JsonBytes(Response):
    """A rendered JSON body, answered as Starlette's `Response(body, status_code, headers,
    media_type="application/json")` answers it (the same headers, in the same order; `headers`
    stays mutable), without its generic steps: the common case's header list is built at once
    and the answer is sent as two messages (the dispatcher serves HTTP only, no background)."""

    media_type = "application/json"

    def __init__(
        self, body: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        if headers is None and status_code >= 200 and status_code not in (204, 304):
            self.raw_headers = [(b"content-length", str(len(body)).encode()), _JSON_TYPE]
        else:
            self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        await send({"type": "http.response.body", "body": self.body})


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JsonBytes(orjson.dumps(body), status, headers)


def page_json(members: Mapping[str, Any], cursor: str | None) -> Response:
    """A page as every list answers it: `{<members>, "next_cursor": ..., "has_more": ...}`
    (the one-call pages answer the same shape: gateway/page_calls.py page_response)."""
    return json_response({**members, "next_cursor": cursor, "has_more": cursor is not None})


def no_content() -> Response:
    return Response(status_code=204)
