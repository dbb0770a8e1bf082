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
from collections.abc import Callable
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
from projections.graph.relations import blocked
from projections.text import mention_json
from schemas import events as ev
from schemas.media import AVATAR_SHOWN, AVATAR_SIZES

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


def user_json(user: UserView, public_url: Callable[[str], str]) -> dict[str, Any]:
    """The user object every answer embeds (the one-call pages write the same in
    projections/pages/pages.lua): `public_url` is the object store's (deps.store.public_url)."""
    return {
        "user_id": str(user.user_id),
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": avatar_url(user, public_url),
        "private": user.private,
    }


def avatar_url(user: UserView, public_url: Callable[[str], str]) -> str | None:
    """The URL of the avatar's AVATAR_SHOWN px square; a v1 avatar's URL; None without one."""
    if user.avatar_keys:
        return public_url(user.avatar_keys[AVATAR_SIZES.index(AVATAR_SHOWN)])
    return user.avatar_url


async def user_list(
    graph: GraphViews, ids: list[int], me: int | None, public_url: Callable[[str], str],
    hide_blocked: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Users in the order of `ids` (unknown ones left out, and those blocked either way from
    the viewer unless `hide_blocked` is False: the viewer's own list of blocks), each with
    whether the viewer follows them: two round trips, the second's reads concurrent."""
    views = await graph.users(ids)
    mine: set[int] = set()
    hidden: set[int] = set()
    if me is not None and ids:
        if hide_blocked:
            mine, found = await asyncio.gather(graph.follows(me, ids), graph.relations(me, ids))
            hidden = {i for i, r in found.items() if blocked(r)}
        else:
            mine = await graph.follows(me, ids)
    return [{**user_json(views[i], public_url), "followed_by_viewer": i in mine}
            for i in ids if i in views and i not in hidden]  # fmt: skip


async def posts_json(
    deps: GatewayDeps, posts: list[PostView], me: int | None
) -> list[dict[str, Any]]:
    """Post objects for a page: authors and mentioned users (a mention of a user erased since
    is left out), and counts with the viewer's likes, fetched concurrently in one pipelined
    round trip each."""
    graph, engagement = await deps.graph(), await deps.engagement()
    people = {p.author_id for p in posts} | {m.user_id for p in posts for m in p.mentions}
    authors, stats = await asyncio.gather(
        graph.users(sorted(people)),
        engagement.stats([p.post_id for p in posts], me),
    )
    out = []
    for p in posts:
        author = authors.get(p.author_id)
        counts = stats.get(p.post_id, NO_ENGAGEMENT)
        out.append(
            {
                "post_id": str(p.post_id),
                "user": (
                    user_json(author, deps.store.public_url)
                    if author
                    else {"user_id": str(p.author_id)}
                ),
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
                "mentions": [mention_json(m) for m in p.mentions if m.user_id in authors],
            }
        )
    return out
