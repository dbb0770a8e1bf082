"""Event time as the projections store it: exact Unix milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import events as ev

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def event_ms(event: ev.Event) -> int:
    """Unix milliseconds of the event, exactly (float timestamps lose the last millisecond)."""
    return (event.occurred_at - _UNIX_EPOCH) // _ONE_MS
