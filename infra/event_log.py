"""The port of the event log, declared once for every layer that appends (infra, streams, the
gateway): the Kafka appender (infra/kafka.py) and each wrapper around it (sealing personal data:
infra/sealed_log.py; live actors only: gateway/sessions.py; positions for the request being
served: gateway/consistency.py; settled uploads: streams/settled_uploads.py) provide it, so any
of them can wrap any other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from infra.positions import LogPosition
from schemas.events import Event


class EventLog(Protocol):
    """Appends events durably (acks=all) and in order; returns where each was stored, in the
    order of `events` (read-your-writes tokens: gateway/consistency.py). Raises
    infra.kafka.AppendError when the log does not acknowledge in time (the gateway answers 503
    log_unavailable; a worker retries the batch as an outage)."""

    async def append(self, *events: Event) -> Sequence[LogPosition]: ...
