"""Redis key names: each group's key scheme is one class in `projections/<group>/keys.py`, the only
place its keys are spelled (as Mastodon's FeedManager owns its feed keys); this module holds what
they share.

Keys of one user share the hash tag `{<user_id>}` so a Lua script touching several of them stays
on one slot of a Redis Cluster. Projection keys start with the projection group and version
(`graph.v2:`) so a replay builds beside the live version and the swap is one pointer change.
"""

from __future__ import annotations

from collections.abc import Callable


def template(key_of: Callable[[int], str]) -> str:
    """A key scheme as a `string.format` template for Lua (`%s` where the id goes), so a script
    that derives keys from the ids it reads still spells no key name itself."""
    return key_of(_ID).replace(str(_ID), "%s")


_ID = 987654321987654321  # a placeholder id no key prefix contains
