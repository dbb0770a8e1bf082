"""The `photofeed` command: stack, topics, worker, gateway, up/down, replay, audit."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra.logs import configure_logging
from infra.settings import SETTINGS_FILE, Settings, load_settings, write_settings_file
from infra.stack import Stack, StackError
from photofeed.app_processes import (
    AppStartError,
    gateway_process,
    start_app,
    status_rows,
    worker_processes,
)
from photofeed.backup_cli import backup_app
from photofeed.deadletters_cli import deadletters_app
from photofeed.demo import demo
from photofeed.gateway_serve import gateway_processes
from photofeed.top_cli import top

if TYPE_CHECKING:  # the erasure commands import it when run (start-up stays light)
    from streams.erasure import ErasureStatus, ErasureWorkflow
from photofeed.topics_cli import topics_app
from projections.groups import Group

app = typer.Typer(
    help="photofeed: an event-sourced photo-sharing backend. Settings come from PHOTOFEED_* "
    "variables (see README).",
    no_args_is_help=True,
    add_completion=False,
)
stack_app = typer.Typer(help="The local stack: Tansu (Kafka), SeaweedFS (S3), Valkey.")
replay_app = typer.Typer(help="Rebuild projections from the log, blue/green.")
blocklist_app = typer.Typer(help="Perceptual-hash blocklist: matching uploads are rejected.")
uploads_app = typer.Typer(help="Upload housekeeping.")
audit_app = typer.Typer(help="Consistency checks of the projections.")
erasure_app = typer.Typer(help="Account erasures (DELETE /users/me) and their receipts.")
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(replay_app, name="replay")
app.add_typer(blocklist_app, name="blocklist")
app.add_typer(uploads_app, name="uploads")
app.add_typer(audit_app, name="audit")
app.add_typer(erasure_app, name="erasure")
app.add_typer(backup_app, name="backup")
app.add_typer(deadletters_app, name="deadletters")
console = Console(stderr=True)
READY_TIMEOUT_S = 90.0  # worker group join + gateway start on a cold 2-core machine
WORKER_GC_THRESHOLDS = (20_000, 20, 20)  # gc.set_threshold of the worker (see `worker`)


def _settings() -> Settings:
    s = load_settings()
    configure_logging(s.log_level, s.log_json)
    return s


def _stack_up(settings: Settings) -> Stack:
    stack = Stack(settings)
    try:
        stack.up(lambda name, t: console.print(f"[green]ready[/] {name:<10} {t:5.2f} s"))
    except StackError as exc:
        console.print(f"[red]stack failed:[/] {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("interrupted: stopping what was started")
        stack.down()
        raise typer.Exit(130) from None
    return stack


@stack_app.command("up")
def stack_up() -> None:
    """Start the services (idempotent; data under PHOTOFEED_DATA_DIR survives restarts)."""
    _stack_up(_settings())


@stack_app.command("down")
def stack_down() -> None:
    """Stop the services; their data stays."""
    stopped = Stack(_settings()).down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@stack_app.command("status")
def stack_status() -> None:
    """Show each service's pid, health and address."""
    _print_status(_settings())


def _print_status(settings: Settings) -> None:
    """Services, then each worker agent's state, progress, dead letters and lag, then the
    worker group's committed offset, true log end and lag per topic partition."""
    from infra.lag import LagProbeError, probe_lag
    from infra.readiness import worker_health
    from photofeed.lag_views import agents_table, partition_table

    snapshots = worker_health(settings)
    table = Table("service", "pid", "healthy", "address")
    services = Stack(settings).status()
    rows = [(n, pid, ok, address) for n, (pid, ok, address) in services.items()]
    for name, pid, healthy, address in [*rows, *status_rows(settings, snapshots)]:
        table.add_row(name, str(pid or "-"), "yes" if healthy else "no", address)
    Console().print(table)
    if snapshots:
        Console().print(agents_table(snapshots))
    if not settings.kafka_bootstrap and not services.get("tansu", (None, True, ""))[1]:
        console.print("[yellow]lag unknown:[/] the broker (tansu) is not running")
        return
    try:
        lags = probe_lag(settings)
    except LagProbeError as exc:
        console.print(f"[yellow]lag unknown:[/] {exc}")
        return
    Console().print(partition_table(lags, settings.worker_group, snapshots))


@app.command()
def worker(
    supervised: bool = typer.Option(
        False, help="Restart the worker with backoff whenever it exits non-zero."
    ),
) -> None:
    """Run the Faust worker in the foreground (all projection agents)."""
    if supervised:
        from infra.supervisor import supervise

        _settings()
        raise typer.Exit(supervise([sys.executable, "-m", "photofeed", "worker"]))
    from photofeed.bootstrap import build_worker

    s = _settings()
    faust_app = build_worker(s)
    from faust.worker import Worker

    # override_logging=False: Faust/mode install no handler or formatter of their own, so
    # their records reach configure_logging's JSON handler; no spinner: it writes terminal
    # escape codes to stdout even when stdout is a log file
    faust_worker = Worker(
        faust_app, loglevel=s.log_level.lower(), quiet=True, redirect_stdouts=False,
        override_logging=False,
    )  # fmt: skip
    faust_worker.spinner = None
    # everything built so far lives as long as the process: out of the collector's sight, a
    # full collection no longer walks it (one took ~75 ms of a batch's freshness, now and then)
    gc.freeze()
    # a batch of 1,000 likes allocates several objects a like (records, events, writes, args),
    # most gone when the batch is: CPython's default (700, 10, 10) ran a young collection every
    # 700 of them. Measured (one worker draining 100k likes, 7 alternating pairs in one stack):
    # worker CPU per like -8% (median 1.89 vs 2.05 %-of-a-core per 1k likes/s), likes/s higher
    # in 6 of 7 pairs (mean +5%; the medians equal: the machine drifts more between rounds);
    # memory grows by at most the 20k young objects
    gc.set_threshold(*WORKER_GC_THRESHOLDS)
    faust_worker.execute_from_commandline()


@app.command()
def gateway(
    port: int = typer.Option(None, help="Port (default PHOTOFEED_GATEWAY_PORT, 8000)"),
    workers: int = typer.Option(
        1, min=0, help="Processes sharing the port (SO_REUSEPORT); 0: one per core."
    ),
    reuse_port: bool = typer.Option(False, hidden=True, help="Bind with SO_REUSEPORT (children)."),
) -> None:
    """Run the HTTP gateway in the foreground: one process, or --workers N sharing the port."""
    from photofeed.gateway_serve import PortTaken, processes_per_core, run_gateway

    s = _settings()
    if port is not None:
        s = s.with_(gateway_port=port)
    try:
        raise typer.Exit(run_gateway(s, workers or processes_per_core(), reuse_port=reuse_port))
    except PortTaken as exc:
        console.print(f"[red]the gateway's port is taken:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def up(
    foreground: bool = typer.Option(False, help="Stay attached; Ctrl-C stops everything."),
    workers: int | None = typer.Option(
        None, min=1, help="Faust worker processes in the one group (default PHOTOFEED_WORKERS, 1)"
    ),
    gateway_workers: int | None = typer.Option(
        None, min=0, help="Gateway processes (default PHOTOFEED_GATEWAY_WORKERS; 0: one per core)"
    ),
) -> None:
    """Start the whole system: stack, topics, workers and gateway."""
    from infra.kafka import create_topics

    started = time.monotonic()
    s = _settings()
    s = s.with_(workers=s.workers if workers is None else workers)
    s = s.with_(gateway_workers=s.gateway_workers if gateway_workers is None else gateway_workers)
    saved = write_settings_file(s)
    _stack_up(s)
    create_topics(s.bootstrap, partitions=s.topic_partitions)
    try:
        procs = start_app(s, gateway_processes(s), READY_TIMEOUT_S)
    except AppStartError as exc:
        console.print(f"[red]{exc.args[0]}[/]; log:\n{exc.args[1]}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        _down(s)
        raise typer.Exit(130) from None
    console.print(
        f"[bold green]photofeed is up[/] in {time.monotonic() - started:.1f} s: "
        f"API {s.gateway_url}/api/v1  docs {s.gateway_url}/docs  logs {s.data_dir / 'logs'}"
    )
    _print_next_steps(s, saved)
    if foreground:
        try:
            while all(p.pid() for p in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            _down(s)


def _print_next_steps(settings: Settings, saved: Path) -> None:
    """What to do once the system is up: the web client, and how to call this command."""
    bindir = Path(sys.executable).parent
    if bindir.is_relative_to(Path.cwd()):
        bindir = bindir.relative_to(Path.cwd())
    url, try_it = settings.gateway_url, "bash docs/try-it.sh"
    if settings.gateway_port != Settings().gateway_port or settings.api_host != "127.0.0.1":
        try_it = f"PHOTOFEED_API={url}/api/v1 {try_it}"
    if settings.data_dir == Settings().data_dir:
        readers = "read by commands run here"
    else:
        readers = f"read with PHOTOFEED_DATA_DIR={settings.data_dir}"
    if (Path.cwd() / SETTINGS_FILE).is_file():
        readers = f"{SETTINGS_FILE} here is read instead"
    url, try_it, saved_at, readers = (escape(v) for v in (url, try_it, str(saved), readers))
    console.print(
        f"\n  web client  [bold]{url}/[/]\n"
        f"  the CLI     [bold]. {bindir / 'activate'}[/]  (or run {bindir / 'photofeed'} …), then\n"
        "              [bold]photofeed status[/]  services, agents, lag\n"
        "              [bold]photofeed demo[/]    a dozen users and a living feed\n"
        f"  the API     [bold]{try_it}[/]  (curl, step by step)\n"
        f"  settings    {saved_at}: {readers} (PHOTOFEED_* win)\n"
        "  stop        [bold]photofeed down[/]  (the data stays)",
        highlight=False,
        soft_wrap=True,
    )


def _down(settings: Settings) -> None:
    """Stop the gateway, then every worker at once (each finishes its batch and commits),
    then the stack. Each stop waits until its whole process group is gone."""
    from concurrent.futures import ThreadPoolExecutor

    if gateway_process(settings).stop():
        console.print("stopped gateway")
    workers = worker_processes(settings)
    with ThreadPoolExecutor(max(1, len(workers))) as pool:
        for proc, stopped in zip(workers, pool.map(lambda w: w.stop(), workers), strict=True):
            if stopped:
                console.print(f"stopped {proc.spec.name}")
    stopped = Stack(settings).down()
    console.print(f"stopped: {', '.join(stopped) or 'no services were running'}")


@app.command()
def down() -> None:
    """Stop the gateway, the worker and the stack; all data stays under the data dir."""
    _down(_settings())


@app.command()
def status() -> None:
    """Show what is running, each agent's state and the worker group's lag."""
    _print_status(_settings())


REPLAY_GROUPS = {
    Group.GRAPH: "users, followers, following and their counts",
    Group.PHOTOS: "photo upload status and the content-addressed media index",
    Group.FEEDS: "posts, author timelines and every home feed (fan-out against the current graph)",
    Group.ENGAGEMENT: "likes, comments, their counts and every user's notifications",
    Group.SEARCH: "the search index of captions, tags and usernames",
}


def _replay_command(group: Group, what: str) -> None:
    def command(
        swap: bool = typer.Option(True, help="Make the rebuilt version active when it verifies."),
        force: bool = typer.Option(False, help="Swap even when it differs from the live version."),
        keep_old: bool = typer.Option(False, help="Keep the retired version's keys."),
    ) -> None:
        from photofeed.replay_cli import run_replay

        settings = _settings()
        code = run_replay(
            settings, group, swap=swap, force=force, keep_old=keep_old, console=console
        )
        raise typer.Exit(code)

    command.__doc__ = (
        f"Rebuild {what} from the log into a fresh version, verify it against the live one, "
        "swap atomically."
    )
    replay_app.command(group)(command)


for _group, _what in REPLAY_GROUPS.items():
    _replay_command(_group, _what)


@audit_app.command("counters")
def audit_counters(
    repair: bool = typer.Option(False, help="Fix every drifted counter from its source sets."),
) -> None:
    """Recompute like, follower and following counts from the sets they derive from (two
    passes, so live writes cannot fake a drift); report drift, and repair it with --repair."""
    from photofeed.audit_cli import run_audit

    raise typer.Exit(run_audit(_settings(), repair, console))


T = TypeVar("T")


def _with_erasures(use: Callable[[ErasureWorkflow], Awaitable[T]]) -> T:
    """`use(workflow)` on this deployment's erasure workflow (streams/erasure.py), its stores
    closed afterwards."""
    import asyncio

    from photofeed.bootstrap import erasure_workflow
    from photofeed.stores import make_stores

    async def run() -> T:
        settings = _settings()
        stores = make_stores(settings)
        try:
            return await use(erasure_workflow(settings, stores))
        finally:
            await stores.redis.aclose()

    return asyncio.run(run())


@erasure_app.command("status")
def erasure_status(user_id: int = typer.Argument(..., help="The erased user's id")) -> None:
    """Show each store's receipt for a user's erasure (exit 1 while steps are pending)."""
    from streams.erasure import STEPS

    status = _with_erasures(lambda flow: flow.status(user_id))
    if status.requested is None:
        console.print(f"no erasure was requested for user {user_id}")
        raise typer.Exit(1)
    table = Table("store", "receipt", title=f"erasure of {user_id}, requested {status.requested}")
    for step in STEPS:
        table.add_row(step, status.receipts.get(step, "[yellow]pending[/]"))
    console.print(table)
    if status.last_error and not status.complete:
        console.print(f"[red]last failed run[/]: {status.last_error} (tried again with backoff)")
    raise typer.Exit(0 if status.complete else 1)


@erasure_app.command("resume")
def erasure_resume(user_id: int = typer.Argument(..., help="The erased user's id")) -> None:
    """Put a requested, unfinished erasure back in the workers' queue (e.g. after the queue was
    lost with a Valkey restored from an older backup); a worker resumes it at the first step
    without a receipt. Refuses a user whose erasure was never requested."""

    async def resume(flow: ErasureWorkflow) -> ErasureStatus:
        status = await flow.status(user_id)
        if status.requested is not None and not status.complete:
            await flow.request([user_id])
        return status

    status = _with_erasures(resume)
    if status.requested is None:
        console.print(f"no erasure was requested for user {user_id}: nothing to resume")
        raise typer.Exit(1)
    if status.complete:
        console.print(f"the erasure of {user_id} is complete: nothing to resume")
        raise typer.Exit(0)
    console.print(f"the erasure of {user_id} is queued; a worker resumes it within seconds")


@blocklist_app.command("add")
def blocklist_add(
    source: str = typer.Argument(..., help="An image file, or a perceptual hash (signed int)"),
    note: str = typer.Option("", help="Why it is blocked (shown to moderators)"),
) -> None:
    """Block an image (and near-duplicates within the configured Hamming distance)."""
    import asyncio

    phash = _phash_of(source)
    asyncio.run(_with_blocklist(lambda b: b.add(phash, note or source)))
    console.print(f"blocked {phash}")


@blocklist_app.command("load")
def blocklist_load(
    path: str = typer.Argument(..., help="A file with one image path or hash a line"),
) -> None:
    """Block every image or hash listed in a file (lines starting with # are ignored)."""
    import asyncio

    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    entries = [(_phash_of(ln), ln) for ln in lines if not ln.startswith("#")]

    async def add_all(b: Any) -> None:
        for phash, note in entries:
            await b.add(phash, note)

    asyncio.run(_with_blocklist(add_all))
    console.print(f"blocked {len(entries)} entries")


@blocklist_app.command("remove")
def blocklist_remove(phash: int = typer.Argument(..., help="The hash to unblock")) -> None:
    """Unblock a perceptual hash."""
    import asyncio

    asyncio.run(_with_blocklist(lambda b: b.remove(phash)))


@blocklist_app.command("list")
def blocklist_list() -> None:
    """Print every blocked hash and its note."""
    import asyncio

    entries: dict[int, str] = asyncio.run(_with_blocklist(lambda b: b.entries()))
    for phash, note in sorted(entries.items()):
        print(f"{phash}\t{note}")


@uploads_app.command("cleanup")
def uploads_cleanup(
    older_than: int = typer.Option(None, help="Seconds (default PHOTOFEED_UPLOAD_SESSION_TTL_S)"),
) -> None:
    """Abort unfinished multipart uploads and delete originals never completed (the worker
    also does this every 15 minutes)."""
    import asyncio

    from infra.clients import make_redis
    from photofeed.bootstrap import cleanup_uploads

    async def run() -> Any:
        settings = _settings()
        redis = make_redis(settings)
        try:
            return await cleanup_uploads(settings, redis, older_than)
        finally:
            await redis.aclose()

    report = asyncio.run(run())
    console.print(
        f"aborted {report.aborted_multipart} multipart uploads, "
        f"deleted {report.deleted_originals} abandoned originals"
    )


def _phash_of(source: str) -> int:
    import os

    if not os.path.exists(source):
        try:
            return int(source)
        except ValueError:
            raise typer.BadParameter(f"{source!r} is neither a file nor a hash") from None
    from streams.media.imaging import RejectedImage, process_image, sniff_type

    with open(source, "rb") as f:
        data = f.read()
    try:
        return process_image(data, sniff_type(data[:32]) or "unknown").phash
    except RejectedImage as exc:
        raise typer.BadParameter(f"{source}: {exc.reason}") from None


async def _with_blocklist(action: Any) -> Any:
    from infra.clients import make_redis
    from streams.blocklist import RedisBlocklist

    redis = make_redis(_settings())
    try:
        return await action(RedisBlocklist(redis))
    finally:
        await redis.aclose()


app.command("top")(top)
app.command("demo")(demo)


def main() -> None:
    app()
