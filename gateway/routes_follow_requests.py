"""Follow requests to the caller's private account: the pending list, approve and reject.

Requests are made by `POST /follow/{id}` (gateway/privacy.py) and withdrawn by `DELETE
/follow/{id}`; the graph group keeps them (projections/graph/requests.py). Approving makes the
requester a follower (the graph edge, the counts, the newest posts in their feed and a `follow`
notification); rejecting forgets the request (they may ask again).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import deps_of, require_user
from gateway.cursors import decode_cursor, encode_cursor
from gateway.errors import not_found
from gateway.responses import no_content, page_json
from gateway.route_kit import append_or_503, user_list
from gateway.validation import limit_param, path_id
from schemas import events as ev


async def list_follow_requests(request: Request) -> Response:
    """The caller's pending incoming requests, newest first, as user objects."""
    deps = deps_of(request)
    me = require_user(request)
    limit = limit_param(request)
    after = decode_cursor(request.query_params.get("cursor"))
    graph = await deps.graph()
    page = await graph.follow_requests(me, limit, after)
    users = await user_list(graph, [e.user_id for e in page.items], me, deps.store.public_url)
    return page_json({"users": users}, encode_cursor(page.next))


async def approve(request: Request) -> Response:
    return await _answer(request, approved=True)


async def reject(request: Request) -> Response:
    return await _answer(request, approved=False)


async def _answer(request: Request, approved: bool) -> Response:
    """204; 404 when the requester has no pending request to the caller (never made, withdrawn,
    or answered already)."""
    deps = deps_of(request)
    me = require_user(request)
    requester = path_id(request, "requester_id", "follow request")
    if me not in await (await deps.graph()).requested(requester, [me]):
        raise not_found("follow request")
    await append_or_503(
        deps,
        ev.FollowRequestResolved(event_id=deps.ids.next_id(), occurred_at=deps.now(),
                                 actor_id=me, requester_id=requester, approved=approved),
    )  # fmt: skip
    return no_content()
