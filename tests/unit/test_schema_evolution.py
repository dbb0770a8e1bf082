"""Schema files agree with the event types, and every newest schema reads every older version."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import types
import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

import schemas
from schemas import events as ev
from schemas.codec import (
    MAGIC,
    Codec,
    DecodeError,
    SchemaVersion,
    bundled_schema_texts,
    default_codec,
    load_schema_versions,
    to_record,
)
from schemas.events import EVENT_TYPES
from tests.unit.strategies import avro_records

AVRO_DIR = Path(schemas.__file__).parent / "avro"
FILE_NAME = re.compile(
    r"^(?P<snake>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)\.v(?P<version>[1-9][0-9]*)\.avsc$"
)
VERSIONS = default_codec().versions()
AT = datetime(2025, 3, 4, 5, 6, 7, 89_000, tzinfo=UTC)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def schema_files() -> list[Path]:
    return sorted(p for p in AVRO_DIR.iterdir() if p.suffix == ".avsc")


def field_types(schema: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f["type"] for f in schema["fields"]}


# (a) files, names and fields ------------------------------------------------------------------


def test_the_schema_folder_is_not_empty_and_is_what_the_codec_loads() -> None:
    files = schema_files()
    assert files
    assert [p.name for p in files] == [name for name, _ in bundled_schema_texts()]


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.name)
def test_schema_file_is_named_after_its_record_and_version(path: Path) -> None:
    m = FILE_NAME.match(path.name)
    assert m is not None, f"{path.name} is not <snake>.v<N>.avsc"
    raw = json.loads(path.read_text("utf-8"))
    assert raw["type"] == "record"
    assert snake(raw["name"]) == m["snake"]


def test_versions_of_each_event_are_numbered_from_one_without_gaps() -> None:
    by_name: dict[str, list[int]] = {}
    for v in VERSIONS:
        by_name.setdefault(v.name, []).append(v.version)
    for name, numbers in by_name.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), name


def test_every_event_type_has_a_schema_and_every_schema_an_event_type() -> None:
    assert {t.__name__ for t in EVENT_TYPES} == {v.name for v in VERSIONS}
    assert len({t.__name__ for t in EVENT_TYPES}) == len(EVENT_TYPES)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda t: t.__name__)
def test_event_fields_equal_the_newest_schema_fields(cls: type[ev.Event]) -> None:
    latest = default_codec().latest(cls.__name__)
    assert latest.version == max(v.version for v in VERSIONS if v.name == cls.__name__)
    python_fields = [f.name for f in dataclasses.fields(cls)]
    avro_fields = [f["name"] for f in latest.schema["fields"]]
    assert len(set(python_fields)) == len(python_fields)
    assert set(python_fields) == set(avro_fields)
    assert len(python_fields) == len(avro_fields)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda t: t.__name__)
def test_optional_python_fields_are_nullable_avro_fields_with_a_null_default(
    cls: type[ev.Event],
) -> None:
    hints = typing.get_type_hints(cls)
    avro = {f["name"]: f for f in default_codec().latest(cls.__name__).schema["fields"]}
    for name, hint in hints.items():
        optional = typing.get_origin(hint) in (types.UnionType, typing.Union) and type(
            None
        ) in typing.get_args(hint)
        nullable = isinstance(avro[name]["type"], list) and "null" in avro[name]["type"]
        assert optional == nullable, f"{cls.__name__}.{name}"
        if nullable:
            assert avro[name]["type"][0] == "null"  # a union's default must match its first branch
            assert "default" in avro[name]
            assert avro[name]["default"] is None


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.name}.v{v.version}")
def test_every_schema_carries_id_time_and_actor(version: SchemaVersion) -> None:
    types_ = field_types(version.schema)
    assert types_["event_id"] == "long"
    assert types_["occurred_at"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert types_["actor_id"] == "long"


def test_no_schema_carries_a_secret() -> None:
    forbidden = ("password", "secret", "token", "hash")
    allowed = {"blurhash", "phash", "content_sha256"}  # image fingerprints, not credentials
    for version in VERSIONS:
        for name in field_types(version.schema):
            if name in allowed:
                continue
            assert not any(word in name for word in forbidden), f"{version.name}.{name}"


# (b) every newest schema reads every version ---------------------------------------------------


def single_object(version: SchemaVersion, record: dict[str, Any]) -> bytes:
    """`record` written with `version` exactly as an independent Avro producer would."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, version.schema, record)
    return MAGIC + version.fingerprint + buf.getvalue()


def assert_read_as_newest(codec: Codec, version: SchemaVersion, record: dict[str, Any]) -> None:
    event = codec.decode(single_object(version, record))
    latest = codec.latest(version.name)
    assert type(event).__name__ == version.name
    decoded = to_record(event)
    for field in latest.schema["fields"]:
        name = field["name"]
        expected = record[name] if name in record else field["default"]
        assert decoded[name] == expected, name


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.name}.v{v.version}")
@given(data=st.data())
def test_the_codec_reads_every_version_with_the_newest_schema(
    version: SchemaVersion, data: st.DataObject
) -> None:
    record = data.draw(avro_records(version.schema))
    assert_read_as_newest(default_codec(), version, record)


# (c) a real evolution, with an in-test v2 of UserRegistered -----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRegistered(ev.UserRegistered):
    """UserRegistered as a v2 schema would have it: two fields added, both with defaults."""

    locale: str = "en"
    bio: str | None = None


V2_FIELDS: list[dict[str, Any]] = [
    {"name": "locale", "type": "string", "default": "en"},
    {"name": "bio", "type": ["null", "string"], "default": None},
]
V2_TYPES = tuple(UserRegistered if t is ev.UserRegistered else t for t in EVENT_TYPES)


def user_registered_v2(new_fields: list[dict[str, Any]]) -> tuple[str, str]:
    texts = dict(bundled_schema_texts())
    raw = json.loads(texts["user_registered.v1.avsc"])
    raw["fields"] = [*raw["fields"], *new_fields]
    return "user_registered.v2.avsc", json.dumps(raw)


def evolved_codec(new_fields: list[dict[str, Any]]) -> Codec:
    texts = [*bundled_schema_texts(), user_registered_v2(new_fields)]
    return Codec(load_schema_versions(texts), V2_TYPES)


def v1_message() -> bytes:
    event = ev.UserRegistered(event_id=7, occurred_at=AT, actor_id=8, username="alice")
    return default_codec().encode(event)


def test_a_v2_reader_fills_defaults_into_a_v1_message() -> None:
    codec = evolved_codec(V2_FIELDS)
    assert codec.latest("UserRegistered").version == 2
    decoded = codec.decode(v1_message())
    assert decoded == UserRegistered(
        event_id=7, occurred_at=AT, actor_id=8, username="alice", locale="en", bio=None
    )


def test_a_v2_codec_writes_v2_and_reads_it_back() -> None:
    codec = evolved_codec(V2_FIELDS)
    event = UserRegistered(
        event_id=9, occurred_at=AT, actor_id=10, username="bob", locale="fr", bio="hi"
    )
    data = codec.encode(event)
    assert data[2:10] == codec.latest("UserRegistered").fingerprint
    assert data[2:10] != default_codec().latest("UserRegistered").fingerprint
    assert codec.decode(data) == event
    with pytest.raises(DecodeError, match="fingerprint"):
        default_codec().decode(data)  # an old reader does not know v2: it must not guess


V2_CODEC = evolved_codec(V2_FIELDS)  # built once: hypothesis draws many records against it


@given(data=st.data())
def test_a_v2_codec_reads_every_bundled_version(data: st.DataObject) -> None:
    codec = V2_CODEC
    version = data.draw(st.sampled_from(codec.versions()))
    record = data.draw(avro_records(version.schema))
    assert_read_as_newest(codec, version, record)


def test_a_new_field_without_default_cannot_read_v1() -> None:
    codec = evolved_codec([{"name": "locale", "type": "string"}])
    with pytest.raises(DecodeError):
        codec.decode(v1_message())


def test_a_version_that_only_changes_docs_repeats_a_schema() -> None:
    texts = dict(bundled_schema_texts())
    raw = json.loads(texts["user_registered.v1.avsc"])
    raw["doc"] = "same fields, new words"
    doubled = [*texts.items(), ("user_registered.v2.avsc", json.dumps(raw))]
    with pytest.raises(ValueError, match="repeats"):
        Codec(load_schema_versions(doubled), EVENT_TYPES)


@pytest.mark.parametrize(
    "filename", ["user_registered.avsc", "UserRegistered.v1.avsc", "user_registered.v1.json"]
)
def test_misnamed_schema_files_are_refused(filename: str) -> None:
    text = dict(bundled_schema_texts())["user_registered.v1.avsc"]
    with pytest.raises(ValueError, match="named"):
        load_schema_versions([(filename, text)])


def test_a_file_defining_another_record_is_refused() -> None:
    text = dict(bundled_schema_texts())["user_registered.v1.avsc"]
    with pytest.raises(ValueError, match="agree"):
        load_schema_versions([("user_followed.v1.avsc", text)])


def test_an_event_type_without_schema_is_refused() -> None:
    texts = [t for t in bundled_schema_texts() if not t[0].startswith("user_registered.")]
    with pytest.raises(ValueError, match="UserRegistered"):
        Codec(load_schema_versions(texts), EVENT_TYPES)
