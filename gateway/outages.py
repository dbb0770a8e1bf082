"""Dependency outages as HTTP answers: an unreachable Valkey, broker or S3 is a 503 with
`Retry-After` and a JSON error, never a 500; and each dependency's last known state.

The dispatcher calls `outage_of` on every exception a route lets escape; routes need not catch
client errors themselves (they may, to undo a half-done command, and re-raise).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.exceptions
import urllib3.exceptions
from minio.error import ServerError

from gateway.errors import ApiError
from gateway.responses import rfc3339
from infra.kafka import AppendError

RETRY_AFTER_S = 2  # seconds; a local service restarts in 1-2 s, clients add their own backoff
VALKEY, BROKER, S3 = "valkey", "broker", "s3"
DEPENDENCIES = (VALKEY, BROKER, S3)
STORE_UNAVAILABLE, LOG_UNAVAILABLE = "store_unavailable", "log_unavailable"
# Scale-out stores, matched by (top-level module, class name) so they need not be installed.
_OPTIONAL_DRIVER_OUTAGES = {
    ("cassandra", "NoHostAvailable"),
    ("cassandra", "OperationTimedOut"),
    ("cassandra", "Unavailable"),
    ("cassandra", "ReadTimeout"),
    ("cassandra", "WriteTimeout"),
    ("elastic_transport", "ConnectionError"),
    ("elastic_transport", "ConnectionTimeout"),
}
_CAUSE_DEPTH = 4  # explicit causes (`raise … from exc`) followed this deep


@dataclass(frozen=True, slots=True)
class Outage:
    dependency: str | None  # one of DEPENDENCIES; None when the timeout names nobody
    code: str  # STORE_UNAVAILABLE | LOG_UNAVAILABLE
    detail: str


def outage_of(exc: BaseException) -> Outage | None:
    """The outage `exc` (or an explicit cause of it) reports, or None for any other failure."""
    seen: BaseException | None = exc
    for _ in range(_CAUSE_DEPTH):
        if seen is None:
            return None
        found = _classify(seen)
        if found is not None:
            return found
        seen = seen.__cause__
    return None


def _classify(exc: BaseException) -> Outage | None:
    detail = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, AppendError):
        return Outage(BROKER, LOG_UNAVAILABLE, detail)
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return Outage(VALKEY, STORE_UNAVAILABLE, detail)  # BusyLoadingError included
    if isinstance(exc, urllib3.exceptions.HTTPError | ServerError):
        return Outage(S3, STORE_UNAVAILABLE, detail)  # unreachable, timed out, or S3's own 5xx
    if any((c.__module__.split(".")[0], c.__name__) in _OPTIONAL_DRIVER_OUTAGES
           for c in type(exc).__mro__):  # fmt: skip
        return Outage(None, STORE_UNAVAILABLE, detail)
    if isinstance(exc, TimeoutError | ConnectionError):
        return Outage(None, STORE_UNAVAILABLE, detail)  # a bound of ours, or a raw socket
    return None


def unavailable(outage: Outage) -> ApiError:
    """The client's answer: 503, Retry-After, and what is safe to do next."""
    if outage.code == LOG_UNAVAILABLE:
        message = (
            "the event log did not acknowledge the command in time, so it is reported as not "
            "done; it may still have been recorded: retry it with the same Idempotency-Key to "
            "apply it exactly once"
        )
    else:
        what = {VALKEY: "the projection store", S3: "the object store"}.get(
            outage.dependency or "", "a backing store"
        )
        message = f"{what} is unreachable; nothing was changed by this request, retry later"
    return ApiError(503, outage.code, message, {"Retry-After": str(RETRY_AFTER_S)})


@dataclass(frozen=True, slots=True)
class DependencyState:
    up: bool | None  # None: not observed yet
    at: float  # unix seconds of the observation
    error: str | None = None


class DependencyStates:
    """The last known state of each dependency, as seen by failed requests and by readiness
    checks. In-memory and per process; `/healthz` reads it on every call, so the rendered
    snapshot is kept until the next observation."""

    def __init__(self) -> None:
        self._states = {d: DependencyState(None, 0.0) for d in DEPENDENCIES}
        self._snapshot: dict[str, dict[str, object]] | None = None

    def mark(self, dependency: str, up: bool, error: str | None = None) -> None:
        self._states[dependency] = DependencyState(up, time.time(), None if up else error)
        self._snapshot = None

    def snapshot(self) -> dict[str, dict[str, object]]:
        """dependency -> {"state": "up"|"down"|"unknown", "checked_at": RFC 3339|null, "error"?}."""
        if self._snapshot is None:
            self._snapshot = {name: _render(s) for name, s in self._states.items()}
        return self._snapshot


def _render(s: DependencyState) -> dict[str, object]:
    state = "unknown" if s.up is None else "up" if s.up else "down"
    at = rfc3339(int(s.at * 1000)) if s.up is not None else None
    entry: dict[str, object] = {"state": state, "checked_at": at}
    if s.error:
        entry["error"] = s.error
    return entry
