"""The ports of projection versions: which version serves, and whole-version operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from projections.groups import Group


class VersionRegistry(Protocol):
    """Which version of each projection group serves reads, and which one a replay is building."""

    async def active(self, group: Group) -> int: ...

    async def targets(self, group: Group) -> list[int]: ...

    async def begin_build(self, group: Group) -> int: ...

    async def finish_build(self, group: Group, version: int, swap: bool) -> int | None: ...


class VersionAdmin(Protocol):
    async def diff(self, a: int, b: int, limit: int = 20) -> tuple[int, list[str]]: ...

    async def drop(self, version: int) -> int: ...

    async def activate(self, version: int) -> None: ...
