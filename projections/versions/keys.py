"""Redis key names of the version pointers and applied offsets (unversioned)."""

from __future__ import annotations

ACTIVE_VERSIONS = "projections:active"  # hash: group -> version that serves reads


BUILDING_VERSIONS = "projections:building"  # hash: group -> version a replay is filling


VERSION_SEQUENCE = "projections:next"  # hash: group -> last version number handed out


def applied_offsets(group: str) -> str:
    """Hash "<topic>:<partition>" -> the next offset `group` has applied there (only grows;
    unversioned: live agents write every version of a group). Read-your-writes waits on it."""
    return f"projections:applied:{group}"
