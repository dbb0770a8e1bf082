"""Liveness and readiness.

`/healthz` answers 200 while the process serves, with no I/O: its body carries each
dependency's last known state (from failed requests and the readiness checks). `/readyz` checks
the broker (a metadata request), Valkey (PING) and S3 (the bucket exists) now, concurrently, each
bounded by the dependency timeout: 200 when all answer, else 503 naming the failed ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import deps_of
from gateway.outages import RETRY_AFTER_S, DependencyStates
from gateway.responses import json_response

MONITOR_INTERVAL_S = 5.0  # /healthz's states are at most this stale when no request failed
log = structlog.get_logger("photofeed.gateway")

Check = Callable[[], Awaitable[None]]  # returns when the dependency answers, raises otherwise


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    ms: float
    error: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error is not None:
            out["error"] = self.error
        return out


class Readiness:
    """Runs the dependency checks; concurrent callers share one run, so a burst of probes
    during an outage holds no more than one thread per dependency."""

    def __init__(
        self, checks: Mapping[str, Check], states: DependencyStates, timeout_s: float
    ) -> None:
        self._checks = dict(checks)
        self._states = states
        self._timeout_s = timeout_s
        self._running: asyncio.Task[dict[str, CheckResult]] | None = None

    async def check(self) -> dict[str, CheckResult]:
        """Each dependency's result, within the timeout (plus scheduling)."""
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._run())
        return await asyncio.shield(self._running)

    async def _run(self) -> dict[str, CheckResult]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._one(n) for n in names))
        return dict(zip(names, results, strict=True))

    async def _one(self, name: str) -> CheckResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._checks[name]()
            result = CheckResult(True, _ms_since(started))
        except TimeoutError:
            result = CheckResult(False, _ms_since(started), f"no answer in {self._timeout_s} s")
        except Exception as exc:
            result = CheckResult(False, _ms_since(started), f"{type(exc).__name__}: {exc}"[:300])
        self._states.mark(name, result.ok, result.error)
        return result

    async def monitor(self, interval_s: float = MONITOR_INTERVAL_S) -> None:
        """Refresh the states every `interval_s` until cancelled (the gateway's lifespan)."""
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("readiness_check_failed")
            await asyncio.sleep(interval_s)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def healthz(request: Request) -> Response:
    """200 while the process serves; the dependencies' last known states, no I/O."""
    states: DependencyStates = request.app.state.dependencies
    return json_response({"status": "ok", "dependencies": states.snapshot()})


async def readyz(request: Request) -> Response:
    """200 when every dependency answers now; else 503 + Retry-After naming the failed ones."""
    readiness = deps_of(request).readiness
    results = await readiness.check() if readiness is not None else {}
    ready = all(r.ok for r in results.values())
    body = {"status": "ready" if ready else "unavailable",
            "checks": {n: r.json() for n, r in results.items()}}  # fmt: skip
    if ready:
        return json_response(body)
    return json_response(body, 503, {"Retry-After": str(RETRY_AFTER_S)})
