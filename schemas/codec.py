"""Avro single-object encoding of events (spec: `C3 01` + CRC-64-AVRO fingerprint + binary body).

Any Avro reader holding `schemas/avro/` can decode a message without a registry server. Decoding
resolves the writer's schema (found by fingerprint) against the newest version of the same record,
so every newer version reads every older one.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from schemas.events import EVENT_TYPES, Event

T = TypeVar("T")
MAGIC = b"\xc3\x01"
HEADER_LEN = 10  # == len(MAGIC) + the 8-byte fingerprint, fixed by the Avro spec
_FILE = re.compile(r"^(?P<snake>[a-z0-9_]+)\.v(?P<version>\d+)\.avsc$")


class DecodeError(ValueError):
    """The bytes are not an event this codebase can read; the message goes to the dead letters."""


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    name: str  # Avro record name == Python class name
    version: int
    schema: dict[str, Any]  # parsed by fastavro
    fingerprint: bytes  # CRC-64-AVRO of the canonical form, little-endian, as on the wire


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def load_schema_versions(texts: Iterable[tuple[str, str]]) -> list[SchemaVersion]:
    """Parse `(filename, avsc text)` pairs named `<snake_name>.v<N>.avsc`."""
    out = []
    for filename, text in texts:
        m = _FILE.match(filename)
        if m is None:
            raise ValueError(f"schema file {filename!r} is not named <event>.v<N>.avsc")
        raw = json.loads(text)
        parsed = typing.cast(dict[str, Any], parse_schema(raw, named_schemas={}))
        canonical = to_parsing_canonical_form(parsed)
        fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
        name = raw["name"]
        if _snake(name) != m["snake"]:
            raise ValueError(f"{filename} defines {name}; file and record names must agree")
        out.append(SchemaVersion(name, int(m["version"]), parsed, fp))
    return out


def bundled_schema_texts() -> list[tuple[str, str]]:
    """The `.avsc` files shipped in `schemas/avro/`."""
    folder = resources.files("schemas") / "avro"
    return sorted(
        (p.name, p.read_text("utf-8")) for p in folder.iterdir() if p.name.endswith(".avsc")
    )


class Codec:
    """Encodes events with the newest schema of their type; decodes any known version."""

    def __init__(self, versions: Iterable[SchemaVersion], types_: Iterable[type[Event]]) -> None:
        self._types = {t.__name__: t for t in types_}
        self._by_fp: dict[bytes, SchemaVersion] = {}
        self._latest: dict[str, SchemaVersion] = {}
        for v in versions:
            if v.fingerprint in self._by_fp:
                raise ValueError(f"{v.name} v{v.version} repeats an earlier schema")
            self._by_fp[v.fingerprint] = v
            if v.name not in self._latest or v.version > self._latest[v.name].version:
                self._latest[v.name] = v
        missing = set(self._types) - set(self._latest)
        if missing:
            raise ValueError(f"event types without a schema: {sorted(missing)}")

    def latest(self, name: str) -> SchemaVersion:
        return self._latest[name]

    def versions(self) -> list[SchemaVersion]:
        return sorted(self._by_fp.values(), key=lambda v: (v.name, v.version))

    def encode(self, event: Event) -> bytes:
        sv = self._latest[type(event).__name__]
        buf = io.BytesIO()
        buf.write(MAGIC)
        buf.write(sv.fingerprint)
        fastavro.schemaless_writer(buf, sv.schema, to_record(event))
        return buf.getvalue()

    def decode(self, data: bytes | None) -> Event:
        """Return the event; raise DecodeError (and nothing else) for a null or empty value and
        for foreign, unknown or corrupt bytes."""
        if not data:
            raise DecodeError("null value" if data is None else "empty value")
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise DecodeError("not Avro single-object encoding (missing C3 01 marker)")
        writer = self._by_fp.get(data[2:HEADER_LEN])
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:HEADER_LEN].hex()}")
        reader = self._latest[writer.name]
        # written with the newest schema (the common case): nothing to resolve
        resolve = None if reader is writer else reader.schema
        body = io.BytesIO(data[HEADER_LEN:])
        try:
            record = fastavro.schemaless_reader(body, writer.schema, resolve)
        except Exception as exc:  # fastavro raises several types for corrupt bodies
            raise DecodeError(f"corrupt {writer.name} v{writer.version} body: {exc}") from exc
        if body.tell() != len(data) - HEADER_LEN:
            raise DecodeError(f"{writer.name} body has trailing bytes")
        if not isinstance(record, dict):
            raise DecodeError(f"{writer.name} body is not a record")
        try:
            return from_record(self._types[writer.name], record)
        except Exception as exc:  # a value the event type refuses (e.g. out of range)
            raise DecodeError(f"{writer.name} v{writer.version}: {exc}") from exc


@cache
def default_codec() -> Codec:
    """The codec over the bundled schemas and `EVENT_TYPES`; built once per process."""
    return Codec(load_schema_versions(bundled_schema_texts()), EVENT_TYPES)


def to_record(event: Event) -> dict[str, Any]:
    """The event as the dict fastavro writes (nested dataclasses to dicts, tuples to lists)."""
    return {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def from_record(cls: type[T], record: Mapping[str, Any]) -> T:
    """Build `cls` from a decoded record, rebuilding nested dataclasses and tuples."""
    kwargs = {}
    for name, convert in _converters(cls):
        if name in record:
            value = record[name]
            kwargs[name] = value if convert is None or value is None else convert(value)
    return cls(**kwargs)


Converter = Callable[[Any], Any]
_CONVERTERS: dict[type, list[tuple[str, Converter | None]]] = {}


def _converters(cls: type) -> list[tuple[str, Converter | None]]:
    """(field, converter or None for 'as decoded') per field of `cls`, worked out once per class:
    decoding then costs one dict lookup per field instead of type introspection."""
    cached = _CONVERTERS.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls)]
        _CONVERTERS[cls] = cached
    return cached


def _converter(hint: Any) -> Converter | None:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converter(inner[0])  # None values never reach a converter
    if origin is tuple:
        item = _converter(typing.get_args(hint)[0])
        if item is None:
            return tuple
        return lambda values: tuple(item(v) for v in values)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        nested: type = hint
        return lambda v: from_record(nested, v) if isinstance(v, Mapping) else v
    return None
