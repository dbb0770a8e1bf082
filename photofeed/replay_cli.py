"""`photofeed replay <group>`: wires the rebuild to Redis and Kafka and shows its progress."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from infra.keystore import RedisKeyStore
from infra.settings import Settings
from photofeed.bootstrap import planner
from photofeed.stores import make_stores, version_admin, writer_factory
from projections.backends.functions import check_libraries
from projections.groups import Group
from projections.versions.redis import RedisVersions
from replay.reader import LogReader
from replay.rebuild import ReplayResult, rebuild, topics_for
from schemas.codec import default_codec
from streams.opener import Opener


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:>9,.0f} events/s")


async def replay_group(
    settings: Settings,
    group: Group,
    *,
    swap: bool = True,
    force: bool = False,
    keep_old: bool = False,
    progress: Progress | None = None,
) -> ReplayResult:
    stores = make_stores(settings)
    redis = stores.redis
    await check_libraries(redis)  # the rebuild writes through the same functions as the worker
    task = progress.add_task(f"replay {group}", total=None) if progress else None

    def on_progress(done: int, total: int | None) -> None:
        if progress is not None and task is not None:
            progress.update(task, completed=done, total=total)

    try:
        return await rebuild(
            group,
            LogReader(settings.bootstrap, topics_for(group)),
            default_codec(),
            RedisVersions(redis),
            writer_factory(stores, group),
            version_admin(stores, group),
            planner(stores, group),
            swap=swap,
            force=force,
            keep_old=keep_old,
            on_progress=on_progress,
            open_events=Opener(RedisKeyStore(redis)).open,
        )
    finally:
        await redis.aclose()


def run_replay(
    settings: Settings, group: Group, *, swap: bool, force: bool, keep_old: bool, console: Console
) -> int:
    """Run with a progress bar; return the exit code (1 when verification blocked the swap)."""
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        result = asyncio.run(
            replay_group(
                settings, group, swap=swap, force=force, keep_old=keep_old, progress=progress
            )
        )
    console.print(
        f"replayed {result.events} events ({result.undecodable} undecodable) into "
        f"{group}.v{result.version} in {result.seconds:.2f} s = {result.events_per_s:,.0f} events/s"
    )
    if result.differences:
        console.print(
            f"[yellow]{result.differences} keys differ from live {group}.v{result.live_version}[/]:"
            f" {', '.join(result.sample)}"
        )
    if result.swapped:
        console.print(f"[green]swapped[/]: {group}.v{result.version} now serves reads")
        if result.dropped_version is not None:
            console.print(f"dropped {group}.v{result.dropped_version}")
        return 0
    if swap:
        console.print("[red]not swapped[/]: rerun with --force to accept the differences")
        return 1
    kept = "kept" if keep_old else "dropped"
    console.print(f"built {group}.v{result.version} without swapping (--no-swap); it was {kept}")
    return 0
