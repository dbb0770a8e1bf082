"""`photofeed audit counters`: recompute every counter from its source sets, report, repair."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra.clients import make_redis
from infra.settings import Settings
from projections.audit.logic import Drift
from projections.audit.redis import RedisCounterAudit
from projections.groups import Group
from projections.versions.redis import RedisVersions

SHOWN = 50  # drift rows printed; the total is always printed


async def audit_counters(
    settings: Settings, repair: bool, progress: Progress | None = None
) -> tuple[list[Drift], int]:
    """(drifts found, writes made repairing them) on the active versions."""
    redis = make_redis(settings)
    task = progress.add_task("reading source sets", total=None) if progress else None

    def on_progress(keys: int) -> None:
        if progress is not None and task is not None:
            progress.update(task, completed=keys, description=f"read {keys:,} keys")

    try:
        versions = RedisVersions(redis)
        audit = RedisCounterAudit(
            redis, await versions.active(Group.GRAPH), await versions.active(Group.ENGAGEMENT),
            on_progress,
        )  # fmt: skip
        drifts = await audit.audit()
        writes = await audit.repair(drifts) if repair and drifts else 0
        return drifts, writes
    finally:
        await redis.aclose()


def run_audit(settings: Settings, repair: bool, console: Console) -> int:
    """Exit code: 0 when clean or repaired, 1 when drift was found and left."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        drifts, writes = asyncio.run(audit_counters(settings, repair, progress))
    if not drifts:
        console.print("[green]no drift[/]: every counter equals its source sets")
        return 0
    table = Table("counter", "id", "stored", "expected", "delta")
    for d in drifts[:SHOWN]:
        table.add_row(d.counter, str(d.entity), str(d.stored), str(d.expected), f"{d.delta:+d}")
    console.print(table)
    console.print(f"[yellow]{len(drifts)} counters drifted[/]")
    if repair:
        console.print(f"[green]repaired[/] with {writes} writes")
        return 0
    console.print("run again with --repair to fix them")
    return 1
