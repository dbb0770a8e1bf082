"""`photofeed backup keygen|create|restore`: encrypted backups of accounts, data keys and the
erased set, the state replay cannot rebuild (file format and restore rules: infra/backup.py).

Heavy modules (redis, argon2, cryptography) are imported inside the commands, so `photofeed`
starts as fast as without this group.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from infra.settings import Settings, load_settings

if TYPE_CHECKING:
    from infra import backup

backup_app = typer.Typer(
    help="Encrypted backups of what replay cannot rebuild: accounts, data keys, erased users.",
    no_args_is_help=True,
)
console = Console(stderr=True)
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file", help="File holding the backup key (base64 of 32 bytes); default: "
        "PHOTOFEED_BACKUP_KEY",
    ),
]  # fmt: skip
LOG_HELP = (
    "Also treat every erasure request in the log as erased: users erased after the backup was "
    "taken stay erased even when Valkey lost its erased set."
)
T = TypeVar("T")
OUTCOMES = ("restored", "kept", "conflict", "erased")  # infra/backup.py's restore outcomes


@backup_app.command("keygen")
def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the key (mode 0600)")],
) -> None:
    """Write a new random backup key; never overwrites a file. Keep it apart from the backups."""
    from infra import backup

    try:
        backup.write_private(path, backup.new_key_text().encode(), exclusive=True)
    except FileExistsError:
        _fail(f"{path} exists; a backup key is never overwritten")
    except OSError as exc:
        _fail(f"cannot write {path}: {exc.strerror}")
    console.print(f"wrote a new backup key to {path} (mode 0600)")


@backup_app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="The backup file to write (mode 0600)")],
    key_file: KeyFile = None,
) -> None:
    """Copy every account, data key and erased user from Valkey into one encrypted file."""
    from infra import backup
    from infra.clients import make_redis

    settings = load_settings()
    key = _key(settings, key_file)

    async def collect() -> backup.Snapshot:
        redis = make_redis(settings)
        try:
            return await backup.collect(redis, account_layout())
        finally:
            await redis.aclose()

    snapshot = _valkey(collect)
    try:
        backup.write_private(file, backup.seal(snapshot, key))
    except OSError as exc:
        _fail(f"cannot write {file}: {exc.strerror}")
    Console().print(
        f"backed up {len(snapshot.accounts)} accounts, {len(snapshot.keys)} data keys and "
        f"{len(snapshot.erased)} erased users to {file}"
    )


@backup_app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `photofeed backup create`")],
    key_file: KeyFile = None,
    log: Annotated[bool, typer.Option("--log/--no-log", help=LOG_HELP)] = True,
) -> None:
    """Merge a backup into Valkey (idempotent; erased users stay erased; newer passwords win).

    Restore before the gateway serves traffic again (README, *Backups*)."""
    from infra import backup
    from infra.clients import make_redis

    settings = load_settings()
    key = _key(settings, key_file)
    try:
        snapshot = backup.unseal(file.read_bytes(), key)
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}")
    except backup.BackupError as exc:
        _fail(f"{file}: {exc}; nothing was restored")
    also_erased = _erased_in_log(settings) if log else set()

    async def apply() -> backup.RestoreReport:
        redis = make_redis(settings)
        columns = (TextColumn("restoring"), BarColumn(), MofNCompleteColumn())
        try:
            with Progress(*columns, console=console) as bar:
                task = bar.add_task("restore", total=backup.restore_steps(snapshot, also_erased))
                return await backup.apply(
                    redis, snapshot, account_layout(), also_erased, lambda n: bar.advance(task, n)
                )
        finally:
            await redis.aclose()

    report = _valkey(apply)
    out = Console()
    for what, counts in (("accounts", report.accounts), ("data keys", report.keys)):
        out.print(f"{what}: " + ", ".join(f"{o} {counts[o]}" for o in OUTCOMES))
    out.print(f"erased users: {report.erased_total} ({report.erased_added} newly recorded)")
    if report.accounts["conflict"] or report.keys["conflict"]:
        console.print("[yellow]conflicts kept the live value[/] (README, Backups)")


def account_layout() -> backup.AccountLayout:
    """How gateway/accounts.py stores accounts, for infra/backup.py (infra may not import it)."""
    from gateway import accounts
    from gateway.keys import AccountKeys
    from infra import backup

    return backup.AccountLayout(
        pattern=AccountKeys.PATTERN,
        account_key=AccountKeys.account,
        name_key=AccountKeys.name,
        user_id_of=AccountKeys.user_id_of,
        username=accounts.USERNAME,
        password_hash=accounts.PASSWORD_HASH,
        changed_at=accounts.CHANGED_AT,
    )


def _key(settings: Settings, key_file: Path | None) -> bytes:
    from infra import backup

    if key_file is not None:
        try:
            text = key_file.read_text()
        except OSError as exc:
            _fail(f"cannot read the key file {key_file}: {exc.strerror}")
        if stat.S_IMODE(os.stat(key_file).st_mode) & 0o077:
            console.print(f"[yellow]warning:[/] {key_file} is readable by others: chmod 600 it")
    elif settings.backup_key:
        text = settings.backup_key
    else:
        _fail("no backup key: pass --key-file PATH or set PHOTOFEED_BACKUP_KEY")
    try:
        return backup.parse_key(text)
    except backup.BackupError as exc:
        _fail(str(exc))


def _valkey(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `work`; a Valkey failure (unreachable, or a restore it did not fsync) exits 1."""
    import redis.exceptions

    try:
        return asyncio.run(work())
    except redis.exceptions.RedisError as exc:
        _fail(f"Valkey: {type(exc).__name__}: {exc} (a restore may be run again: it is idempotent)")


def _erased_in_log(settings: Settings) -> set[int]:
    """Every user whose erasure was requested, read from the users topic up to its end."""
    from infra.topics import USERS
    from replay.reader import LogReader
    from schemas import events as ev
    from schemas.codec import DecodeError, default_codec

    codec, erased = default_codec(), set[int]()
    try:
        for batch in LogReader(settings.bootstrap, [USERS.name]).batches():
            for record in batch:
                try:
                    event = codec.decode(record.value)
                except DecodeError:
                    continue  # a dead letter's business, not an erasure
                if isinstance(event, ev.AccountErasureRequested):
                    erased.add(event.actor_id)
    except Exception as exc:
        _fail(f"cannot read erasure requests from the log ({exc}); nothing was restored. "
              "Pass --no-log only if the log is lost too.")  # fmt: skip
    return erased


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(1)
