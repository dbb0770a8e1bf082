"""Applies a batch of decoded events to every live version of one projection group.

While a replay builds a new version, live agents write both the active and the building version,
so nothing appended after the replay's high watermark is missing when it swaps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from projections.groups import Group, writes_for
from projections.ports import ProjectionWriter
from projections.versions.ports import VersionRegistry
from projections.writes import Write
from schemas.events import Event

Planner = Callable[[Sequence[Event]], Awaitable[list[Write]]]


def pure_planner(group: Group) -> Planner:
    """The planner of a group whose HANDLERS need no facts."""

    async def plan(events: Sequence[Event]) -> list[Write]:
        return writes_for(group, events)

    return plan


class ProjectionSink:
    def __init__(
        self,
        group: Group,
        versions: VersionRegistry,
        writer_for: Callable[[int], ProjectionWriter],
        plan: Planner | None = None,
    ) -> None:
        """`plan` turns a batch into writes; by default the group's pure HANDLERS. Groups whose
        handlers need facts from other projections pass a planner that loads them first."""
        self.group = group
        self._versions = versions
        self._writer_for = writer_for
        self._plan = plan or pure_planner(group)

    async def apply(
        self, events: Sequence[Event], on_applied: Callable[[Sequence[Write]], None] | None = None
    ) -> int:
        """Write the batch to each target version; return the number of writes per version.

        The targets are read after the batch was collected, so any event appended after a replay
        took its high watermark is written to the version being built. `on_applied` (the
        worker's metrics) sees the writes once every version has them.
        """
        writes = await self._plan(events)
        if writes:
            for version in await self._versions.targets(self.group):
                await self._writer_for(version).apply(writes)
            if on_applied is not None:
                on_applied(writes)
        return len(writes)
