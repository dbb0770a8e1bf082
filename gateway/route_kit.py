"""What the route modules (`gateway/routes_*.py`) share, so that none of them imports another:
appending a command's events, the caller's live account and its password confirmation, the live
post a command acts on, and the JSON of users and posts on the paths that assemble a page from
the per-group readers.

Their other helpers have homes of their own: responses and the page envelope
(gateway/responses.py), fetching a page (gateway/paging.py), the one-call pages
(gateway/page_calls.py), request parsing (gateway/validation.py), cursors (gateway/cursors.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from gateway.accounts import Account
from gateway.deps import GatewayDeps
from gateway.errors import ApiError, account_erased, not_found
from gateway.ratelimit import client_address
from gateway.responses import rfc3339
from infra.keystore import ErasedUser
from projections.engagement.ports import PostStats
from projections.feeds.ports import PostView
from projections.graph.ports import GraphViews, UserView
from schemas import events as ev

NO_ENGAGEMENT = PostStats(0, 0, False)


async def append_or_503(deps: GatewayDeps, *events: ev.Event) -> None:
    """Append; an erased (or erasing) actor is 401 and nothing is appended (the log checks
    it: gateway/sessions.py LiveActorsLog). A log that does not acknowledge raises
    AppendError, which the dispatcher answers with 503 log_unavailable (gateway/outages.py)."""
    try:
        await deps.log.append(*events)
    except ErasedUser:
        raise account_erased() from None


async def live_account(deps: GatewayDeps, user_id: int) -> Account:
    """The caller's account; 401 when it is gone or being erased (its token is then no
    good either, hence the challenge)."""
    account = await deps.accounts.by_id(user_id)
    if account is None:
        raise account_erased(challenge=True)
    return account


async def confirm_password(
    request: Request, deps: GatewayDeps, account: Account, password: str
) -> None:
    """Return when `password` is the account's; 403 wrong_password otherwise; 429 under the
    login backoff of the account's username and the client address (gateway/routes_sessions.py:
    a stolen token guesses no faster than the login route allows)."""
    address = client_address(request)
    await deps.limits.login.admit(account.username, address)
    if not await deps.passwords.verify(account.password_hash, password):
        raise ApiError(403, "wrong_password", "the password is not this account's")
    await deps.limits.login.succeeded(account.username, address)


async def live_post(deps: GatewayDeps, post_id: int) -> PostView:
    """The post, or 404 when it is unknown or deleted."""
    post = (await (await deps.feeds()).posts([post_id])).get(post_id)
    if post is None:
        raise not_found("post")
    return post


def user_json(user: UserView) -> dict[str, Any]:
    return {"user_id": str(user.user_id), "username": user.username, "avatar_url": user.avatar_url}


async def user_list(graph: GraphViews, ids: list[int], me: int | None) -> list[dict[str, Any]]:
    """Users in the order of `ids` (unknown ones left out), each with whether the viewer
    follows them: two round trips."""
    views = await graph.users(ids)
    mine = await graph.follows(me, ids) if me is not None else set()
    return [{**user_json(views[i]), "followed_by_viewer": i in mine} for i in ids if i in views]


async def posts_json(
    deps: GatewayDeps, posts: list[PostView], me: int | None
) -> list[dict[str, Any]]:
    """Post objects for a page: authors, and counts with the viewer's likes, fetched
    concurrently in one pipelined round trip each."""
    graph, engagement = await deps.graph(), await deps.engagement()
    authors, stats = await asyncio.gather(
        graph.users(sorted({p.author_id for p in posts})),
        engagement.stats([p.post_id for p in posts], me),
    )
    out = []
    for p in posts:
        author = authors.get(p.author_id)
        counts = stats.get(p.post_id, NO_ENGAGEMENT)
        out.append(
            {
                "post_id": str(p.post_id),
                "user": user_json(author) if author else {"user_id": str(p.author_id)},
                "caption": p.caption,
                "tags": list(p.tags),
                "image_urls": {n: deps.store.public_url(k) for n, k in p.variants.items()},
                "width": p.width,
                "height": p.height,
                "blurhash": p.blurhash,
                "alt_text": p.alt_text,
                "like_count": counts.likes,
                "comment_count": counts.comments,
                "liked_by_viewer": counts.liked_by_viewer,
                "created_at": rfc3339(p.published_ms),
            }
        )
    return out
