"""The ports of projection versions: which version serves, and whole-version operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from projections.groups import Group


INITIAL_VERSION = 1  # a group nobody rebuilt yet serves from version 1


class VersionRegistry(Protocol):
    """Which version of each projection group serves reads, and which one a replay is building."""

    async def active(self, group: Group) -> int: ...

    async def targets(self, group: Group) -> list[int]: ...

    async def begin_build(self, group: Group) -> int: ...

    async def finish_build(self, group: Group, version: int, swap: bool) -> int | None: ...


class VersionAdmin(Protocol):
    """Compares and drops whole versions of one projection group (a rebuild verifies the new
    version against the live one, then swaps and drops the retired one: replay/rebuild.py)."""

    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]:
        """How many entries differ between versions `a` and `b`, and up to `limit` of them."""

    async def drop(self, version: int) -> int:
        """Delete every entry of `version`; return how many there were."""

    async def activate(self, version: int) -> None:
        """Called after `version` became the active one (e.g. an Elasticsearch alias swap)."""
