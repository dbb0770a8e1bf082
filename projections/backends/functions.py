"""The Valkey Functions libraries, each a `.lua` file in the home of what it serves
(`projections/<group>/*.lua`): the read pages (pages/pages.lua), the seq-guarded writes and
applied offsets (backends/versioned.lua), and each group's own writes (graph/graph.lua,
photos/photos.lua, feeds/feeds.lua, engagement/engagement.lua).

A library is loaded when the stack starts (infra/stack.py `load_valkey_functions`, as the admin
role: the app roles may call and list functions but not define them), and checked by each process
that calls it (`check_libraries`, or `check_library` for one): a library whose code differs from
this checkout's is refused at start-up, never discovered mid-request. Calls are FCALL/FCALL_RO by
name: nothing is hashed or sent again per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis

PROJECTIONS = Path(__file__).resolve().parents[1]


class LibraryMismatch(RuntimeError):
    """The server holds no such library, or other code under its name: load it again
    (`photofeed stack up`)."""


@dataclass(frozen=True)
class Library:
    name: str  # as the file's shebang line names it
    code: str

    @staticmethod
    def read(file: Path) -> Library:
        code = file.read_text()
        name = code.split("\n", 1)[0].partition("name=")[2].strip()
        if not code.startswith("#!lua name=") or not name:
            raise ValueError(f"{file}: must start with `#!lua name=<library>`")
        return Library(name, code)


def library_files() -> list[Path]:
    """Every library of the checkout (what the stack loads when it starts)."""
    return sorted(PROJECTIONS.glob("*/*.lua"))


@cache
def libraries() -> tuple[Library, ...]:
    """Every library of the checkout, read once per process."""
    found = tuple(Library.read(file) for file in library_files())
    names = [library.name for library in found]
    if len(set(names)) != len(names):
        raise ValueError(f"two .lua files name the same library: {sorted(names)}")
    return found


@cache
def pages_library() -> Library:
    return Library.read(PROJECTIONS / "pages" / "pages.lua")


async def check_library(r: Redis, library: Library) -> None:
    """Raise LibraryMismatch unless the server holds `library` with this very code (FUNCTION
    LIST WITHCODE: no version to bump by hand, a stale library is always caught)."""
    found = await r.function_list(library=library.name, withcode=True)
    codes = [_field(entry, "library_code") for entry in found]
    _verdict(library, codes)


async def check_libraries(r: Redis) -> None:
    """check_library for every library of the checkout, in one FUNCTION LIST WITHCODE (what the
    worker and the gateway check at start-up: both call functions of several libraries)."""
    _check_all(await r.function_list(withcode=True))


def check_libraries_now(r: SyncRedis) -> None:
    """check_libraries with a synchronous client: for a process that checks before its event
    loop runs (the worker, while it builds its Faust app)."""
    _check_all(r.function_list(withcode=True))


def _check_all(entries: list[Any]) -> None:
    """Each library of the checkout against what FUNCTION LIST WITHCODE answered."""
    codes: dict[str, list[str]] = {}
    for entry in entries:
        codes.setdefault(_field(entry, "library_name"), []).append(_field(entry, "library_code"))
    for library in libraries():
        _verdict(library, codes.get(library.name, []))


def _verdict(library: Library, codes: list[str]) -> None:
    """Raise LibraryMismatch unless one of `codes` (what the server holds under the library's
    name) is the library's code."""
    if not codes:
        raise LibraryMismatch(
            f"Valkey has no function library {library.name!r}; load it: `photofeed stack up` "
            "(or FUNCTION LOAD the files projections/*/*.lua as an admin)"
        )
    if library.code not in codes:
        raise LibraryMismatch(
            f"Valkey holds another {library.name!r} than this checkout's .lua file: load it "
            "again (`photofeed stack up`)"
        )


def _field(entry: object, name: str) -> str:
    """A field of one FUNCTION LIST entry (a flat list of names and values, or a dict)."""
    pairs: dict[object, object]
    if isinstance(entry, dict):
        pairs = dict(entry)
    else:
        items = list(entry) if isinstance(entry, list | tuple) else []
        pairs = dict(zip(items[::2], items[1::2], strict=False))
    value = pairs.get(name, pairs.get(name.encode(), ""))
    return value.decode() if isinstance(value, bytes) else str(value)
