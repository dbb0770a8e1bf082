"""JSON responses rendered with orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from projections.feeds.cards import rfc3339

__all__ = ["json_response", "no_content", "page_json", "rfc3339"]


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def page_json(members: Mapping[str, Any], cursor: str | None) -> Response:
    """A page as every list answers it: `{<members>, "next_cursor": ..., "has_more": ...}`
    (the one-call pages answer the same shape: gateway/page_calls.py page_response)."""
    return json_response({**members, "next_cursor": cursor, "has_more": cursor is not None})


def no_content() -> Response:
    return Response(status_code=204)
