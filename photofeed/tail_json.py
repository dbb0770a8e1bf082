"""One log message as a JSON-ready dict: what `photofeed topics tail` prints, one per line.

Decoded: {topic, partition, offset, key, timestamp, type, <the event's fields>} with 64-bit
ids (and the 64-bit pHash) as decimal strings, since JSON numbers lose precision past 2^53,
and datetimes in RFC 3339 (UTC, milliseconds). Undecodable: {topic, partition, offset, key,
timestamp, undecodable: base64 of the value (null for none), error}. Messages with headers (the
dead letters) carry them as `headers` (UTF-8, invalid bytes replaced).
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from typing import Any, Protocol

from schemas.codec import Codec, DecodeError
from schemas.events import Event

WIDE_INTS = frozenset({"phash"})  # 64-bit fields besides the ids (`*_id`): strings in JSON


class LogMessage(Protocol):
    """What the tail needs of a confluent-kafka Message."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> str | bytes | None: ...
    def value(self) -> str | bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def headers(
        self,
    ) -> dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]] | None: ...


def rfc3339(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: 2026-05-01T12:00:00.123Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_fields(event: Event) -> dict[str, Any]:
    """The event's fields as JSON-ready values (ids as decimal strings, times RFC 3339)."""
    return {f.name: _plain(f.name, getattr(event, f.name)) for f in dataclasses.fields(event)}


def _plain(name: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return str(value) if name.endswith("_id") or name in WIDE_INTS else value
    if isinstance(value, datetime):
        return rfc3339(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(name, v) for v in value]
    return str(value)


def message_json(msg: LogMessage, codec: Codec) -> tuple[dict[str, Any], Event | None]:
    """The message as printed, and its event (None when undecodable)."""
    key, value = _bytes(msg.key()), _bytes(msg.value())
    kind, ms = msg.timestamp()
    row: dict[str, Any] = {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": None if key is None else key.decode("utf-8", "replace"),
        "timestamp": rfc3339(datetime.fromtimestamp(ms / 1000, UTC)) if kind and ms >= 0 else None,
    }
    headers = msg.headers()
    if headers:
        pairs = headers.items() if isinstance(headers, dict) else headers
        row["headers"] = {k: (_bytes(v) or b"").decode("utf-8", "replace") for k, v in pairs}
    try:
        event = codec.decode(value)
    except DecodeError as exc:
        row["undecodable"] = None if value is None else base64.b64encode(value).decode()
        row["error"] = str(exc)
        return row, None
    row["type"] = type(event).__name__
    row.update(event_fields(event))
    return row, event


def _bytes(data: str | bytes | None) -> bytes | None:
    return data.encode() if isinstance(data, str) else data
