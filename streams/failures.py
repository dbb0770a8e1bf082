"""The failure policy's two kinds: an outage (retry with backoff, for a bounded budget) or bad
input (dead-letter at once). Every agent and every after-batch step asks `kind_of`.

An outage is a dependency that did not answer: a connection refused or reset, a timeout, the log
refusing an append, a store answering "busy" or a 5xx. Everything else raised while handling an
event is about the event (a decode error, a null value, a seal that does not open, an image the
libraries cannot handle, a bug a particular event triggers): retrying the same bytes cannot
help, so the partition must move on without it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import structlog

Kind = Literal["bad_input", "outage"]
T = TypeVar("T")

FIRST_DELAY_S = 0.1  # first backoff; doubles up to MAX_DELAY_S
MAX_DELAY_S = 5.0  # <= the budget's smallest sensible value, so a short budget still retries
CHAIN_DEPTH = 5  # causes followed when classifying (wrapped driver errors)

# Outage classes named by module and qualified name, so that optional drivers (Cassandra,
# Elasticsearch) need not be imported to be recognised.
_OUTAGE_NAMES = frozenset(
    {
        "redis.exceptions.ConnectionError",
        "redis.exceptions.TimeoutError",
        "redis.exceptions.BusyLoadingError",
        "redis.exceptions.TryAgainError",
        "redis.exceptions.ClusterDownError",
        "infra.kafka.AppendError",
        "cimpl.KafkaException",
        "confluent_kafka.cimpl.KafkaException",
        "urllib3.exceptions.HTTPError",
        "minio.error.ServerError",
        "cassandra.cluster.NoHostAvailable",
        "cassandra.OperationTimedOut",
        "cassandra.Unavailable",
        "cassandra.Timeout",
        "elastic_transport.TransportError",
        "aiokafka.errors.KafkaConnectionError",
        "aiokafka.errors.KafkaTimeoutError",
    }
)
_OUTAGE_S3_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})

log = structlog.get_logger("photofeed.failures")


def kind_of(exc: BaseException) -> Kind:
    """'outage' when `exc` (or one of its causes) says a dependency did not answer."""
    seen: BaseException | None = exc
    for _ in range(CHAIN_DEPTH):
        if seen is None:
            break
        if _is_outage(seen):
            return "outage"
        seen = seen.__cause__ or seen.__context__
    return "bad_input"


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    names = {f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__}
    if names & _OUTAGE_NAMES:
        return True
    return "minio.error.S3Error" in names and getattr(exc, "code", "") in _OUTAGE_S3_CODES


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a step gave up on its input."""

    kind: Kind
    error: BaseException
    attempts: int
    stage: str

    @property
    def error_class(self) -> str:
        return type(self.error).__name__

    @property
    def message(self) -> str:
        return str(self.error)[:2000] or repr(self.error)


class Failed(Exception):
    """A step's input must be dead-lettered (or, for a batch, split): see `failure`."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.stage}: {failure.kind} {failure.error_class}")
        self.failure = failure


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries outages with exponential backoff until `budget_s` has passed since the first try;
    bad input fails at once. `sleep` and `clock` are injectable for tests."""

    budget_s: float
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic

    async def run(self, stage: str, step: Callable[[], Awaitable[T]]) -> T:
        """The step's result; raises Failed when the input is bad or the budget is spent.
        Cancellation passes through untouched."""
        started, delay, attempts = self.clock(), FIRST_DELAY_S, 0
        while True:
            attempts += 1
            try:
                return await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                kind = kind_of(exc)
                spent = self.clock() - started
                if kind == "bad_input" or spent + delay > self.budget_s:
                    raise Failed(Failure(kind, exc, attempts, stage)) from exc
                log.warning(
                    "outage_retry", stage=stage, error=repr(exc)[:300], attempt=attempts,
                    retry_s=delay, budget_left_s=round(self.budget_s - spent, 1),
                )  # fmt: skip
            await self.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
