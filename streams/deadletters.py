"""Dead letters: what a consumed message carries into the dead-letter topic, and back out.

A dead letter is the original message (key and value bytes untouched, a null value stays null)
with headers that say where it came from and why it was set aside. Its id is its offset in the
dead-letter topic (one partition), so `photofeed deadletters show 17` names exactly one.
Redriving appends the original bytes to the source topic; projections are idempotent, so a
message that was in fact applied before it failed changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from schemas.events import Event
from streams.failures import Failure

# header names; bytes values, UTF-8 text
SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET = "source_topic", "source_partition", "source_offset"
AGENT, STAGE, REASON = "agent", "stage", "reason"
ERROR_CLASS, ERROR, ATTEMPTS, AT_MS = "error_class", "error", "attempts", "dead_lettered_at_ms"
REDRIVEN_FROM = "redriven_from"  # set on a redriven message: the dead letter's id


@dataclass(frozen=True, slots=True)
class Consumed:
    """One message as an agent received it, with its event once decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    event: Event | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int  # offset in the dead-letter topic
    source_topic: str
    source_partition: int
    source_offset: int
    agent: str
    stage: str
    reason: str  # "bad_input" | "outage"
    error_class: str
    error: str
    attempts: int
    at_ms: int
    key: bytes | None
    value: bytes | None


class DeadLetterSink(Protocol):
    """Appends a dead letter durably; returns only once the broker acknowledged it."""

    async def send(self, item: Consumed, failure: Failure) -> None: ...


def headers_for(
    item: Consumed, failure: Failure, agent: str, now_ms: int
) -> list[tuple[str, bytes]]:
    """The headers a dead letter carries (see module docstring)."""
    fields = {
        SOURCE_TOPIC: item.topic,
        SOURCE_PARTITION: str(item.partition),
        SOURCE_OFFSET: str(item.offset),
        AGENT: agent,
        STAGE: failure.stage,
        REASON: failure.kind,
        ERROR_CLASS: failure.error_class,
        ERROR: failure.message,
        ATTEMPTS: str(failure.attempts),
        AT_MS: str(now_ms),
    }
    return [(k, v.encode()) for k, v in fields.items()]


def parse(
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
) -> DeadLetter:
    """A dead-letter-topic message read back; missing headers read as empty / -1 (messages
    written by older versions carried fewer)."""
    h: Mapping[str, str] = {k: (v or b"").decode("utf-8", "replace") for k, v in headers or []}
    return DeadLetter(
        id=offset,
        source_topic=h.get(SOURCE_TOPIC, ""),
        source_partition=_int(h.get(SOURCE_PARTITION)),
        source_offset=_int(h.get(SOURCE_OFFSET)),
        agent=h.get(AGENT, ""),
        stage=h.get(STAGE, "decode"),
        reason=h.get(REASON, "bad_input"),
        error_class=h.get(ERROR_CLASS, ""),
        error=h.get(ERROR, ""),
        attempts=_int(h.get(ATTEMPTS), 1),
        at_ms=_int(h.get(AT_MS), 0),
        key=key,
        value=value,
    )


def _int(raw: str | None, default: int = -1) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default
