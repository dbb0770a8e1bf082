"""Who may see an account's content: the one rule every read path applies.

Content is an account's posts (feed, grid, a post, its comments, tag pages, search hits) and its
followers and following lists. A public account's content is visible to everyone; a private
account's only to itself and its approved followers (a follower from before the account went
private stays approved). The profile itself (`GET /users/{id}`: name, avatar, counts, the
private flag) stays visible to all, so that people can ask to follow.

The gateway's Python paths call `may_see` (gateway/privacy.py loads the facts through the graph
port); the one-call pages apply its Lua twin, `visible` in projections/pages/pages.lua, and the
test of every read route (tests/e2e/test_private_accounts.py) holds both to it. A later rule (a
block between the two) is one more fact of `Audience` and one more line here and there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Audience:
    """What the rule needs to know of one viewer and one account."""

    viewer: int | None  # None: anonymous
    owner: int
    owner_private: bool
    viewer_follows: bool  # the viewer follows the owner (an approved follower)
    blocked: bool = False  # a block between the two, either way (projections/graph/relations.py)


def may_see(a: Audience) -> bool:
    """Whether the viewer may see the owner's content (never across a block, whatever the
    privacy: the pages' `visible` is applied after their block check)."""
    if a.blocked:
        return False
    if not a.owner_private:
        return True
    return a.viewer is not None and (a.viewer == a.owner or a.viewer_follows)
