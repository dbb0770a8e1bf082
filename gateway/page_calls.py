"""What the routes served by one server-side call share (projections/pages/pages.lua): the
session keys the call checks, settling the session with the call's verdict, and the page
envelope around the call's JSON array."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import pending_session, settle_session
from gateway.deps import GatewayDeps
from gateway.keys import AccountKeys, SessionKeys
from gateway.responses import JsonBytes
from projections.feeds.cards import with_url_base
from projections.pages.redis import PageReply, Session


def session_keys(request: Request) -> Session | None:
    """The keys and epoch of the session this route checks in its own call, if pending."""
    claims = pending_session(request)
    if claims is None:
        return None
    user_id = claims.user_id
    return AccountKeys.account(user_id), SessionKeys.revoked(user_id, claims.sid), claims.epoch


def served(request: Request, reply: PageReply) -> bool:
    """Settle the session with the call's verdict; whether the call served the page."""
    settle_session(request, "ok" if reply.status not in ("revoked", "gone") else reply.status)
    return reply.status != "legacy"


def page_response(
    deps: GatewayDeps, name: str, items: bytes, cursor: str | None, extra: bytes = b""
) -> Response:
    """`{"<name>": [...], <extra>"next_cursor": ..., "has_more": ...}` around a call's JSON
    array (`extra`: more members, each followed by a comma)."""
    tail = b'"next_cursor":"' + cursor.encode() + b'","has_more":true}' if cursor else (
        b'"next_cursor":null,"has_more":false}'
    )  # fmt: skip
    items = with_url_base(items, deps.url_base)
    return JsonBytes(b"".join((b'{"', name.encode(), b'":', items, b",", extra, tail)))
