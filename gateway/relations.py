"""Blocks and mutes as the gateway's Python paths apply them: the write-side refusals (follow,
follow request, like, comment, mention) and the reads assembled outside the one-call pages.

Every decision is projections/graph/relations.py's `blocked` (a mute matters only to the home
feed and the notifications, which the one-call pages filter with its Lua twin); this module only
loads the facts through the graph port (one round trip: the viewer's three zsets) and answers in
the API's terms. The facts are the graph projection's, which trails the log by tens
of milliseconds: a follow or like appended in the instant after a block, before the block is
projected, is accepted, and the read paths still hide both sides from each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.deps import GatewayDeps
from gateway.errors import ApiError
from projections.graph.relations import NONE, Relation, blocked


async def relations_of(deps: GatewayDeps, me: int, others: Iterable[int]) -> dict[int, Relation]:
    """The caller's relation to each of `others` (NONE for most, and for the caller)."""
    wanted = set(others)
    ids = sorted(wanted - {me})
    found = await (await deps.graph()).relations(me, ids) if ids else {}
    return {o: found.get(o, NONE) for o in wanted}


async def refuse_if_blocked(deps: GatewayDeps, me: int, other: int, doing: str) -> None:
    """403 `blocked` when a block stands between the caller and `other`, either way: neither
    may follow, request to follow, like, comment on or mention the other. `doing` names the
    act for the message ("follow", "like this post", ...)."""
    if blocked((await relations_of(deps, me, [other]))[other]):
        raise ApiError(403, "blocked", f"you cannot {doing}: a block stands between you")


async def blocked_among(deps: GatewayDeps, me: int | None, others: Iterable[int]) -> set[int]:
    """Those of `others` hidden from the caller by a block either way (none when anonymous)."""
    if me is None:
        return set()
    return {o for o, r in (await relations_of(deps, me, others)).items() if blocked(r)}
