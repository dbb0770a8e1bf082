"""A data team's plain fastavro reader (the README recipe) decodes what the codec writes."""

from __future__ import annotations

import glob
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.codec import default_codec
from schemas.events import UserFollowed

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"


def plain_reader() -> dict[bytes, Any]:
    by_fp = {}
    for path in glob.glob(str(AVRO / "*.avsc")):
        with open(path) as f:
            schema = fastavro.parse_schema(json.load(f))
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
        by_fp[fp] = schema
    return by_fp


def test_plain_fastavro_reads_the_wire_format() -> None:
    event = UserFollowed(
        event_id=42, occurred_at=datetime(2026, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        actor_id=7, followee_id=9,
    )  # fmt: skip
    wire = default_codec().encode(event)
    by_fp = plain_reader()
    assert wire[:2] == b"\xc3\x01"
    record = fastavro.schemaless_reader(io.BytesIO(wire[10:]), by_fp[wire[2:10]], None)
    assert record == {
        "event_id": 42,
        "occurred_at": event.occurred_at,
        "actor_id": 7,
        "followee_id": 9,
    }
