"""`photofeed deadletters`: list, show, redrive and purge what the agents set aside."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from infra.clients import make_redis
from infra.logs import configure_logging
from infra.settings import Settings, load_settings
from schemas.codec import default_codec
from schemas.events import Event
from streams.deadletter_admin import Listed, listed, mark, read_letters, redrive
from streams.deadletters import DeadLetter

deadletters_app = typer.Typer(
    help="Messages the agents could not apply (bad input, or an outage past its budget): "
    "list, inspect, redrive to their source topic, or purge.",
    no_args_is_help=True,
)
console = Console()
TOPIC_HELP = "Only letters from this source topic (e.g. photofeed.engagement)"


def _settings() -> Settings:
    s = load_settings()
    configure_logging(s.log_level, s.log_json)
    return s


def _letters(settings: Settings, include_resolved: bool) -> list[Listed]:
    letters = list(read_letters(settings.bootstrap))

    async def run() -> list[Listed]:
        redis = make_redis(settings)
        try:
            return await listed(redis, letters, include_resolved=include_resolved)
        finally:
            await redis.aclose()

    return asyncio.run(run())


def _since_ms(since: str | None) -> int:
    if not since:
        return 0
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if since[-1] in units and since[:-1].isdigit():
        seconds = int(since[:-1]) * units[since[-1]]
        return int((dt.datetime.now(dt.UTC).timestamp() - seconds) * 1000)
    try:
        return int(dt.datetime.fromisoformat(since).timestamp() * 1000)
    except ValueError:
        raise typer.BadParameter(f"{since!r}: use 30m, 2h, 7d or an ISO date") from None


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


def _select(
    items: list[Listed], topic: str | None, reason: str | None, since: str | None
) -> list[Listed]:
    floor = _since_ms(since)
    return [
        i
        for i in items
        if (topic is None or i.letter.source_topic == topic)
        and (reason is None or reason in {i.letter.reason, i.letter.error_class})
        and i.letter.at_ms >= floor
    ]


@deadletters_app.command("list")
def list_(
    topic: str = typer.Option(None, help=TOPIC_HELP),
    since: str = typer.Option(None, help="Only letters set aside since: 30m, 2h, 7d, or a date"),
    reason: str = typer.Option(None, help="bad_input, outage, or an error class (DecodeError)"),
    all_: bool = typer.Option(False, "--all", help="Include redriven and purged letters"),
) -> None:
    """One line per dead letter, oldest first, with counts per source topic and reason."""
    items = _select(_letters(_settings(), all_), topic, reason, since)
    table = Table("id", "when (UTC)", "source", "agent", "reason", "error", "state")
    counts: dict[tuple[str, str], int] = {}
    for i in items:
        d = i.letter
        counts[(d.source_topic, d.reason)] = counts.get((d.source_topic, d.reason), 0) + 1
        table.add_row(
            str(d.id), _when(d.at_ms), f"{d.source_topic}[{d.source_partition}]@{d.source_offset}",
            d.agent, d.reason, f"{d.error_class}: {d.error[:60]}", i.resolution or "open",
        )  # fmt: skip
    console.print(table)
    for (t, r), n in sorted(counts.items()):
        console.print(f"{n:>6}  {t}  {r}")
    if not items:
        console.print("no dead letters")


@deadletters_app.command("show")
def show(letter_id: int = typer.Argument(..., help="The id `list` shows")) -> None:
    """Everything about one letter: headers, error, and the event when it decodes (JSON)."""
    found = [i for i in _letters(_settings(), True) if i.letter.id == letter_id]
    if not found:
        console.print(f"no dead letter {letter_id}")
        raise typer.Exit(1)
    print(orjson.dumps(_describe(found[0]), option=orjson.OPT_INDENT_2).decode())


def _describe(item: Listed) -> dict[str, Any]:
    d = item.letter
    out: dict[str, Any] = {
        "id": d.id, "state": item.resolution or "open", "source_topic": d.source_topic,
        "source_partition": d.source_partition, "source_offset": d.source_offset,
        "agent": d.agent, "stage": d.stage, "reason": d.reason, "error_class": d.error_class,
        "error": d.error, "attempts": d.attempts, "dead_lettered_at": _when(d.at_ms),
        "key": d.key.decode("utf-8", "replace") if d.key is not None else None,
        "value_bytes": None if d.value is None else len(d.value),
    }  # fmt: skip
    try:
        event: Event = default_codec().decode(d.value)
        out["event"] = {"type": type(event).__name__, **_plain(event)}
    except Exception as exc:
        out["event"] = None
        out["decode_error"] = str(exc)
        out["value_hex"] = (d.value or b"")[:256].hex()
    return out


def _plain(event: Event) -> dict[str, Any]:
    from schemas.codec import to_record

    record = to_record(event)
    return {k: str(v) if isinstance(v, int) and abs(v) > 2**53 else v for k, v in record.items()}


def _act(
    letter_id: int | None, all_: bool, topic: str | None, how: str, done: str,
    act: Callable[[Settings, list[DeadLetter]], object],
) -> None:  # fmt: skip
    if (letter_id is None) == (not all_):
        raise typer.BadParameter("give one letter id, or --all")
    settings = _settings()
    items = _select(_letters(settings, False), topic, None, None)
    chosen = [i.letter for i in items if all_ or i.letter.id == letter_id]
    if not chosen:
        console.print(f"nothing to {how}: no open dead letter matches")
        raise typer.Exit(1)
    act(settings, chosen)

    async def record() -> None:
        redis = make_redis(settings)
        try:
            await mark(redis, [d.id for d in chosen], done)
        finally:
            await redis.aclose()

    asyncio.run(record())
    console.print(f"{done}: {len(chosen)} letter(s): {', '.join(str(d.id) for d in chosen)}")


@deadletters_app.command("redrive")
def redrive_(
    letter_id: int = typer.Argument(None, help="The id `list` shows"),
    all_: bool = typer.Option(False, "--all", help="Every open letter (of --topic)"),
    topic: str = typer.Option(None, help=TOPIC_HELP),
) -> None:
    """Append the original bytes to the source topic once the cause is fixed; the projections'
    idempotence makes a second delivery harmless. A letter is redriven once."""
    _act(letter_id, all_, topic, "redrive", "redriven", lambda s, ls: redrive(s.bootstrap, ls))


@deadletters_app.command("purge")
def purge(
    letter_id: int = typer.Argument(None, help="The id `list` shows"),
    all_: bool = typer.Option(False, "--all", help="Every open letter (of --topic)"),
    topic: str = typer.Option(None, help=TOPIC_HELP),
) -> None:
    """Mark letters as dealt with (they stay in the topic until its 30-day retention)."""
    _act(letter_id, all_, topic, "purge", "purged", lambda _s, _ls: None)
