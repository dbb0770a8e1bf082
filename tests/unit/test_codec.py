"""The Avro single-object codec: every event type round-trips; foreign or corrupt bytes fail."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import events as ev
from schemas.codec import (
    HEADER_LEN,
    MAGIC,
    DecodeError,
    SchemaVersion,
    default_codec,
    to_record,
)
from schemas.events import EVENT_TYPES, Event
from tests.unit.strategies import any_event, events_of

NAMES = [t.__name__ for t in EVENT_TYPES]
AT = datetime(2025, 6, 1, 12, 30, 45, 123_000, tzinfo=UTC)


def sample() -> ev.UserRegistered:
    return ev.UserRegistered(event_id=11, occurred_at=AT, actor_id=22, username="alice")


def test_header_constants_follow_the_spec() -> None:
    assert bytes([0xC3, 0x01]) == MAGIC
    assert len(MAGIC) + 8 == HEADER_LEN


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=NAMES)
@given(data=st.data())
def test_every_event_type_round_trips(cls: type[Event], data: st.DataObject) -> None:
    event = data.draw(events_of(cls))
    assert type(event) is cls
    decoded = default_codec().decode(default_codec().encode(event))
    assert type(decoded) is cls
    assert decoded == event


@given(any_event())
def test_wire_bytes_are_single_object_encoding(event: Event) -> None:
    codec = default_codec()
    data = codec.encode(event)
    latest = codec.latest(type(event).__name__)
    assert data[:2] == b"\xc3\x01"
    assert len(latest.fingerprint) == 8
    assert data[2:10] == latest.fingerprint
    # the body is plain Avro binary of the newest schema: any Avro reader decodes it
    body = io.BytesIO(data[10:])
    record = fastavro.schemaless_reader(body, latest.schema, latest.schema)
    assert body.tell() == len(data) - 10
    assert record == to_record(event)


CRC64_EMPTY = 0xC15D213AA4D7A795  # the Avro spec's CRC-64-AVRO seed


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return table


def crc64_avro(data: bytes) -> int:
    """The reference algorithm printed in the Avro specification."""
    table = _crc64_table()
    fp = CRC64_EMPTY
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_fingerprints_are_little_endian_crc64_avro_of_the_canonical_form() -> None:
    for version in default_codec().versions():
        canonical = fastavro.schema.to_parsing_canonical_form(version.schema)
        expected = crc64_avro(canonical.encode()).to_bytes(8, "little")
        assert version.fingerprint == expected, version.name


def test_every_schema_has_a_distinct_fingerprint() -> None:
    fingerprints = [v.fingerprint for v in default_codec().versions()]
    assert len(set(fingerprints)) == len(fingerprints)


def test_sub_millisecond_precision_is_not_carried() -> None:
    event = ev.UserRegistered(
        event_id=1, occurred_at=AT.replace(microsecond=123_456), actor_id=2, username="x"
    )
    decoded = default_codec().decode(default_codec().encode(event))
    assert decoded.occurred_at == AT.replace(microsecond=123_000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc3",
        b"\xc3\x01",
        b"\xc3\x01\x00\x00\x00",
        b'{"event_id": 1}',
        b"\x00\x01" + b"\x00" * 20,
        b"\xc3\x02" + b"\x00" * 20,
    ],
    ids=["empty", "half-magic", "magic-only", "short-header", "json", "no-magic", "bad-version"],
)
def test_decode_rejects_foreign_bytes(data: bytes) -> None:
    with pytest.raises(DecodeError):
        default_codec().decode(data)


@given(any_event())
def test_decode_rejects_foreign_header_on_a_valid_body(event: Event) -> None:
    data = default_codec().encode(event)
    with pytest.raises(DecodeError):
        default_codec().decode(b"\x00\x00" + data[2:])


def test_decode_rejects_an_unknown_fingerprint() -> None:
    data = default_codec().encode(sample())
    known = {v.fingerprint for v in default_codec().versions()}
    unknown = bytes(8)
    assert unknown not in known
    with pytest.raises(DecodeError, match="fingerprint"):
        default_codec().decode(MAGIC + unknown + data[HEADER_LEN:])


@given(any_event(), st.data())
def test_decode_rejects_a_truncated_body(event: Event, data: st.DataObject) -> None:
    wire = default_codec().encode(event)
    cut = data.draw(st.integers(HEADER_LEN, len(wire) - 1), label="cut")
    with pytest.raises(DecodeError):
        default_codec().decode(wire[:cut])


@given(any_event(), st.binary(min_size=1, max_size=16))
def test_decode_rejects_trailing_bytes(event: Event, extra: bytes) -> None:
    wire = default_codec().encode(event)
    with pytest.raises(DecodeError, match="trailing"):
        default_codec().decode(wire + extra)


@given(st.sampled_from(default_codec().versions()), st.binary(max_size=64))
def test_decode_of_random_bodies_returns_an_event_or_raises_decode_error(
    version: SchemaVersion, body: bytes
) -> None:
    try:
        event = default_codec().decode(MAGIC + version.fingerprint + body)
    except DecodeError:
        return
    assert type(event).__name__ == version.name


def test_decode_error_is_a_value_error() -> None:
    # callers that route bad messages to the dead-letter topic may catch ValueError
    assert issubclass(DecodeError, ValueError)
