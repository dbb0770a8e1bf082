"""Hypothesis strategies for events, derived generically from the dataclasses and the Avro schemas.

Events are built from each dataclass's type hints; the newest Avro schema of the record decides the
integer range (`int` is 32-bit signed, `long` 64-bit signed, and `*_id` longs are positive ids).
`avro_records` builds plain records for any Avro schema, for writing with an older schema version.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from schemas.codec import default_codec
from schemas.events import EVENT_TYPES, Event

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # Avro "int"
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1  # Avro "long"
MAX_ID = LONG_MAX  # ids are positive 63-bit integers
OLDEST = datetime(1, 1, 1)  # naive bounds: hypothesis attaches the zone
NEWEST = datetime(9999, 12, 31, 23, 59, 59, 999_000)


def ms_datetimes(
    min_value: datetime = OLDEST, max_value: datetime = NEWEST
) -> st.SearchStrategy[datetime]:
    """UTC-aware datetimes with millisecond precision (what timestamp-millis carries)."""
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    )


def _resolve(avro: Any, named: dict[str, Any]) -> Any:
    """A named-type reference replaced by its definition; anything else unchanged."""
    if isinstance(avro, str) and avro in named:
        return named[avro]
    return avro


def _kind(avro: Any) -> str:
    return avro if isinstance(avro, str) else str(avro["type"])


def _int_strategy(avro: Any, name: str) -> st.SearchStrategy[int]:
    kind = _kind(avro)
    if kind == "int":
        return st.integers(INT32_MIN, INT32_MAX)
    if kind != "long":
        raise TypeError(f"field {name}: Python int stored as Avro {kind}")
    if name.endswith("_id"):
        return st.integers(1, MAX_ID)
    return st.integers(LONG_MIN, LONG_MAX)


def _field_strategy(
    hint: Any, avro: Any, name: str, named: dict[str, Any]
) -> st.SearchStrategy[Any]:
    avro = _resolve(avro, named)
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        assert isinstance(avro, list), f"field {name}: Optional in Python, not a union in Avro"
        (branch,) = [b for b in avro if b != "null"]
        return st.none() | _field_strategy(inner, branch, name, named)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        items = _field_strategy(item, avro["items"], name, named)
        return st.lists(items, max_size=5).map(tuple)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return dataclass_strategy(hint, avro, named)
    if hint is int:
        return _int_strategy(avro, name)
    if hint is bool:
        return st.booleans()
    if hint is float:
        return st.floats(allow_nan=False)  # NaN != NaN would defeat equality checks
    if hint is str:
        return st.text()
    if hint is datetime:
        assert avro.get("logicalType") == "timestamp-millis", name
        return ms_datetimes()
    raise TypeError(f"no strategy for field {name}: {hint!r}")


def dataclass_strategy(
    cls: type[Any], record_schema: dict[str, Any], named: dict[str, Any]
) -> st.SearchStrategy[Any]:
    """Instances of `cls`, each field drawn to fit the matching field of `record_schema`."""
    hints = typing.get_type_hints(cls)
    avro_fields = {f["name"]: f["type"] for f in record_schema["fields"]}
    kwargs = {
        f.name: _field_strategy(hints[f.name], avro_fields[f.name], f.name, named)
        for f in dataclasses.fields(cls)
    }
    return st.builds(cls, **kwargs)


def events_of(cls: type[Event]) -> st.SearchStrategy[Event]:
    """Events of one type, fitting the newest schema of that type."""
    schema = default_codec().latest(cls.__name__).schema
    return dataclass_strategy(cls, schema, schema.get("__named_schemas", {}))


def any_event() -> st.SearchStrategy[Event]:
    return st.one_of([events_of(t) for t in EVENT_TYPES])


def avro_records(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values any Avro writer accepts for `schema` (a parsed fastavro schema)."""
    if named is None:
        named = schema.get("__named_schemas", {}) if isinstance(schema, dict) else {}
    schema = _resolve(schema, named)
    if isinstance(schema, list):
        return st.one_of([avro_records(branch, named) for branch in schema])
    kind = _kind(schema)
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        return ms_datetimes()
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(INT32_MIN, INT32_MAX),
        "long": st.integers(LONG_MIN, LONG_MAX),
        "double": st.floats(allow_nan=False),
        "string": st.text(),
        "bytes": st.binary(),
    }
    if kind in simple:
        return simple[kind]
    if kind == "array":
        return st.lists(avro_records(schema["items"], named), max_size=5)
    if kind == "map":
        return st.dictionaries(st.text(), avro_records(schema["values"], named), max_size=5)
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: avro_records(f["type"], named) for f in schema["fields"]}
        )
    raise TypeError(f"no strategy for Avro type {schema!r}")
