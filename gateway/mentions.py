"""@mentions resolved when a text is written (a caption, a comment), for the routes that append
it (gateway/routes_photos.py, gateway/routes_engagement.py).

The text's @names (projections/text.py: at most MAX_MENTIONS, the rest plain text) are looked up
in the accounts store, as the gateway resolves usernames at login: command-side state, current
at once, never a lagging projection. A name that is nobody's, or whom the writer may not
mention, stays plain text; the event carries the rest, so every projection and any replay sees
the same mentions however accounts change later.
"""

from __future__ import annotations

import asyncio

from gateway.accounts import Account
from gateway.deps import GatewayDeps
from gateway.relations import blocked_among
from projections.text import mention_spans
from schemas import events as ev


async def resolve_mentions(deps: GatewayDeps, actor_id: int, text: str) -> tuple[ev.Mention, ...]:
    """The mentions of `text` by `actor_id` that name a user they may mention, in order: one
    concurrent lookup per distinct name."""
    spans = mention_spans(text)
    names = list(dict.fromkeys(s.value for s in spans))
    if not names:
        return ()
    found = await asyncio.gather(*(deps.accounts.by_username(name) for name in names))
    allowed = await mentionable(deps, actor_id, dict(zip(names, found, strict=True)))
    return tuple(ev.Mention(allowed[s.value], s.start, s.end) for s in spans if s.value in allowed)


async def mentionable(
    deps: GatewayDeps, actor_id: int, accounts: dict[str, Account | None]
) -> dict[str, int]:
    """The one decision of whom `actor_id` may mention, by name -> user id: every account that
    exists and is not being erased (the store answers None for those), and with no block
    between the two either way (gateway/relations.py: such a name stays plain text and
    notifies nobody). Yourself too (the projections notify nobody of their own mention)."""
    found = {name: account.user_id for name, account in accounts.items() if account is not None}
    barred = await blocked_among(deps, actor_id, found.values())
    return {name: user_id for name, user_id in found.items() if user_id not in barred}
