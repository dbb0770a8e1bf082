"""In-memory adapter of VersionRegistry: the active/building pointers of each group, in dicts.

For pure tests of what follows the pointers (the sink writing every target version, a rebuild's
begin/finish) that should not need a server. It hands out and retires versions exactly as the
Redis adapter does, which tests/contract checks by running the same suite over both.
"""

from __future__ import annotations

from projections.groups import Group
from projections.versions.ports import INITIAL_VERSION


class MemoryVersions:
    def __init__(self) -> None:
        self._active: dict[Group, int] = {}
        self._building: dict[Group, int] = {}
        self._handed_out: dict[Group, int] = {}  # the last version number begin_build gave

    async def active(self, group: Group) -> int:
        return self._active.get(group, INITIAL_VERSION)

    async def targets(self, group: Group) -> list[int]:
        """Versions a live agent must write: the active one, plus the one being built if any."""
        out = [await self.active(group)]
        building = self._building.get(group)
        if building is not None and building not in out:
            out.append(building)
        return out

    async def begin_build(self, group: Group) -> int:
        """Reserve a version number never handed out before, above the active one."""
        active = await self.active(group)
        self._handed_out[group] = self._handed_out.get(group, active) + 1
        version = max(self._handed_out[group], active + 1)
        self._building[group] = version
        return version

    async def finish_build(self, group: Group, version: int, swap: bool) -> int | None:
        """Stop announcing `version`; when `swap`, make it active. Returns the retired version."""
        old = self._active.get(group)
        self._building.pop(group, None)
        if not swap:
            return version
        self._active[group] = version
        return old if old is not None else INITIAL_VERSION
