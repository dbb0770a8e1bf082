"""Private accounts, command side and the gateway's visibility checks.

- `PATCH /users/me {"private": ...}`: gateway/routes_accounts.py parses the body
  (gateway/profiles.py) and calls `set_privacy` after the profile's own event.
- `POST /follow/{id}`: `follow_or_request` follows a public account (204) and asks to follow a
  private one (202 `{"status": "requested"}`); the owner answers through
  gateway/routes_follow_requests.py.
- Reads of an account's content go through `require_visible` (one account: 403
  `private_account`) or `visible_authors` (a page of many: the hidden ones are left out), both
  the rule of projections/graph/visibility.py over facts read through the graph port. The
  one-call pages apply its Lua twin in projections/pages/pages.lua.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from starlette.responses import Response

from gateway.deps import GatewayDeps
from gateway.errors import ApiError, not_found
from gateway.relations import blocked_among
from gateway.responses import json_response, no_content
from gateway.route_kit import append_or_503
from projections.feeds.ports import PostView
from projections.graph.ports import UserView
from projections.graph.visibility import Audience, may_see
from schemas import events as ev


def hidden() -> ApiError:
    """403 for the content of a private account the caller may not see (one rule for every
    read route: docs/API.md, Conventions)."""
    return ApiError(403, "private_account", "this account is private: only the accounts it "
                    "approved as followers see its posts and lists; ask to follow it")  # fmt: skip


async def set_privacy(deps: GatewayDeps, me: int, private: bool) -> None:
    """Make the caller's account private (or public) from now on: appends
    `AccountPrivacyChanged` (sending the same value again changes nothing a reader sees).
    Going public approves every request pending then: the graph group does it from the requests
    it holds (projections/graph/requests.py), the feeds group backfills those requesters."""
    await append_or_503(
        deps,
        ev.AccountPrivacyChanged(
            event_id=deps.ids.next_id(), occurred_at=deps.now(), actor_id=me, private=private
        ),
    )


async def follow_or_request(deps: GatewayDeps, me: int, target: int) -> Response:
    """Follow `target`, or ask to when it is private and the caller does not follow it yet:
    204 following, 202 requested. Asking again while a request is pending appends nothing.
    (The choice is made on what the projection shows now; see projections/graph/requests.py
    for the instant an account switches.)"""
    graph = await deps.graph()
    user = (await graph.users([target])).get(target)
    if user is None or not user.private or target in await graph.follows(me, [target]):
        await append_or_503(deps, ev.UserFollowed(event_id=deps.ids.next_id(),
                                                  occurred_at=deps.now(), actor_id=me,
                                                  followee_id=target))  # fmt: skip
        return no_content()
    if target not in await graph.requested(me, [target]):
        await append_or_503(deps, ev.FollowRequested(event_id=deps.ids.next_id(),
                                                     occurred_at=deps.now(), actor_id=me,
                                                     followee_id=target))  # fmt: skip
    return json_response({"status": "requested"}, 202)


async def visible_authors(
    deps: GatewayDeps, viewer: int | None, authors: Iterable[int],
    users: Mapping[int, UserView] | None = None,
) -> set[int]:  # fmt: skip
    """Those of `authors` whose content the viewer may see (unknown users count as public:
    their content shows as a deleted author's would; a block either way hides it whatever the
    privacy). `users`: views already read."""
    wanted = set(authors)
    barred = await blocked_among(deps, viewer, wanted)
    graph = await deps.graph()
    if users is None or not wanted <= users.keys():
        users = await graph.users(sorted(wanted))
    private = sorted(a for a in wanted if a in users and users[a].private and a != viewer)
    follows = await graph.follows(viewer, private) if viewer is not None and private else set()
    return {
        a for a in wanted
        if may_see(Audience(viewer, a, a in users and users[a].private, a in follows, a in barred))
    }  # fmt: skip


async def require_visible(deps: GatewayDeps, viewer: int | None, owner: UserView) -> None:
    """Return when the viewer may see the owner's content; 403 `private_account` otherwise (404
    across a block, as the profile itself)."""
    if owner.user_id in await blocked_among(deps, viewer, [owner.user_id]):
        raise not_found("user")
    if owner.user_id not in await visible_authors(deps, viewer, [owner.user_id],
                                                  {owner.user_id: owner}):  # fmt: skip
        raise hidden()


async def require_post_visible(deps: GatewayDeps, viewer: int | None, post: PostView) -> None:
    """One post's page (the post, its comments) through the per-group readers, answering as the
    one-call pages do: 404 across a block (as if there were no such post), 403 `private_account`
    for a private account's post the viewer may not see."""
    if post.author_id in await blocked_among(deps, viewer, [post.author_id]):
        raise not_found("post")
    if not await visible_posts(deps, viewer, [post]):
        raise hidden()


async def visible_posts(deps: GatewayDeps, viewer: int | None, posts: list[PostView]
                        ) -> list[PostView]:  # fmt: skip
    """The posts whose authors the viewer may see, in order (a page's hidden rows left out)."""
    shown = await visible_authors(deps, viewer, {p.author_id for p in posts})
    return [p for p in posts if p.author_id in shown]
