"""A thin ASGI dispatcher over Starlette's Request and Response: the explicit routes list, JSON
errors, metrics and the lifespan, in one layer.

Chosen by measurement (bench/bench_framework.py): on this machine the Starlette application and
Router layers cost ~45% of a bare ASGI app's capacity on a small JSON endpoint, while this
dispatcher with Starlette's Request/Response keeps ~75%. Starlette still parses requests (JSON,
multipart forms) and renders responses.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.datastructures import QueryParams, State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.errors import ApiError, error_response
from gateway.metrics import Metrics
from gateway.outages import DependencyStates, outage_of, unavailable

Endpoint = Callable[[Request], Awaitable[Response]]
Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[None]]
_PARAM = re.compile(r"\{([a-z_]+)\}")
log = structlog.get_logger("photofeed.gateway")


def query_params(raw: bytes) -> QueryParams:
    """Starlette's QueryParams of a query string, split here when nothing in it is escaped
    (no `%`, no `+`: urllib's unquoting would change nothing) instead of by urllib's
    parse_qsl, which with QueryParams' copies cost more than the rest of a page's parsing.
    The same pairs either way (tests/unit/test_gateway_fast_paths.py): `&` separates, empty
    fields are skipped, a field without `=` has the value "", the last of a name wins `get`."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return QueryParams(text)
    pairs = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((name, value))
    params = QueryParams.__new__(QueryParams)
    params._dict = dict(pairs)
    params._list = pairs
    return params


class _Request(Request):
    """Starlette's Request with `query_params` split by `query_params` above."""

    @property
    def query_params(self) -> QueryParams:
        try:
            return self._query_params
        except AttributeError:
            self._query_params = query_params(self.scope["query_string"])
            return self._query_params


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template, e.g. /users/{user_id}; a parameter matches one non-empty segment
    endpoint: Endpoint


Candidate = tuple[re.Pattern[str], str, dict[str, Route]]  # pattern, template, method -> route
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*|\{[a-z_]+\}")  # a literal, or one whole parameter


class _Index:
    """The templates by their shape: a path's segment count and its literal segments before the
    template's first parameter pick the few templates it can fit, each then tried with its own
    pattern. It gives the loop over the routes' patterns (`Dispatcher.match`) the same answer
    because no two templates can fit one path (checked here; else `of` is None and the loop
    decides): whichever finds the one that fits finds the same one."""

    def __init__(self, buckets: dict[tuple[int, str], list[Candidate]], heads: list[int]) -> None:
        self._buckets = buckets
        self._heads = heads  # the distinct positions of templates' first parameter

    @classmethod
    def of(cls, dynamic: Sequence[tuple[re.Pattern[str], Route]]) -> _Index | None:
        by_path: dict[str, tuple[re.Pattern[str], dict[str, Route]]] = {}
        for pattern, route in dynamic:
            by_path.setdefault(route.path, (pattern, {}))[1].setdefault(route.method, route)
        shapes = [path.split("/") for path in by_path]
        if not all(_SEGMENT.fullmatch(part) for shape in shapes for part in shape):
            return None
        for i, a in enumerate(shapes):
            for b in shapes[i + 1 :]:
                if len(a) == len(b) and not any(
                    x != y and "{" not in x and "{" not in y for x, y in zip(a, b, strict=True)
                ):
                    return None  # some path could fit both
        buckets: dict[tuple[int, str], list[Candidate]] = {}
        for shape, (path, (pattern, methods)) in zip(shapes, by_path.items(), strict=True):
            head = next(i for i, part in enumerate(shape) if "{" in part)
            key = (len(shape), "/".join(shape[:head]))
            buckets.setdefault(key, []).append((pattern, path, methods))
        return cls(buckets, sorted({key[1].count("/") + 1 for key in buckets}))

    def find(self, path: str) -> tuple[re.Match[str], str, dict[str, Route]] | None:
        parts = path.split("/")
        n = len(parts)
        for head in self._heads:
            if head >= n:
                break
            for pattern, template, methods in self._buckets.get((n, "/".join(parts[:head])), ()):
                m = pattern.match(path)
                if m is not None:
                    return m, template, methods
        return None


class Dispatcher:
    """The ASGI app. `state` is what `request.app.state` sees (deps, metrics, dependencies)."""

    def __init__(self, routes: Sequence[Route], lifespan: Lifespan | None = None) -> None:
        self.state = State()
        self.metrics = Metrics()
        self.state.metrics = self.metrics
        self.dependencies = DependencyStates()  # last known state of Valkey, broker, S3
        self.state.dependencies = self.dependencies
        self._lifespan = lifespan
        self._static: dict[tuple[str, str], Route] = {}
        self._dynamic: list[tuple[re.Pattern[str], Route]] = []
        self._paths: dict[str, set[str]] = {}  # template -> methods, for 405
        self._literal = {r.path for r in routes if "{" not in r.path}  # paths without params
        for route in routes:
            self._paths.setdefault(route.path, set()).add(route.method)
            if "{" in route.path:
                pattern = _PARAM.sub(lambda m: f"(?P<{m[1]}>[^/]+)", route.path)
                self._dynamic.append((re.compile(f"^{pattern}$"), route))
            else:
                self._static[(route.method, route.path)] = route
        self._index = _Index.of(self._dynamic)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], str | None]:
        """(route, path params, template); route is None with a template when only the method
        is wrong, and None with no template when nothing matches. A literal path shadows the
        templates it also fits (`/users/me` is not a `/users/{user_id}`)."""
        route = self._static.get((method, path))
        if route is not None:
            return route, {}, route.path
        if path in self._literal:
            return None, {}, path
        if self._index is not None:
            found = self._index.find(path)
            if found is None:
                return None, {}, None
            fit, path_template, methods = found
            route = methods.get(method)
            if route is None:
                return None, {}, path_template
            return route, fit.groupdict(), path_template
        template = None
        for pattern, candidate in self._dynamic:
            m = pattern.match(path)
            if m is not None:
                if candidate.method == method:
                    return candidate, m.groupdict(), candidate.path
                template = candidate.path
        return None, {}, template

    def allowed(self, path: str) -> set[str]:
        """Every method some route serves at `path` (a 405's Allow header)."""
        if path in self._literal:
            return set(self._paths[path])  # a literal path: its own methods (see `match`)
        methods: set[str] = set()
        for pattern, route in self._dynamic:
            if pattern.match(path):
                methods.add(route.method)
        return methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        route, params, template = self.match(method, path)
        scope["app"] = self
        scope["path_params"] = params
        if route is not None:
            response = await self._respond(route.endpoint, _Request(scope, receive))
        elif template is not None:
            allow = ", ".join(sorted(self.allowed(path)))
            response = error_response(405, "method_not_allowed", f"{method} is not allowed "
                                      f"here; use {allow}", {"Allow": allow})  # fmt: skip
        else:
            response = error_response(404, "not_found", f"no route for {method} {path}")
        await response(scope, receive, send)
        self.metrics.observe(
            method, template or "unmatched", response.status_code, time.perf_counter() - started
        )

    async def _respond(self, endpoint: Endpoint, request: Request) -> Response:
        """The endpoint's answer; an ApiError as its JSON error; a dependency outage as 503 +
        Retry-After (gateway/outages.py); anything else as a logged 500."""
        try:
            return await endpoint(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.headers)
        except Exception as exc:
            outage = outage_of(exc)
            if outage is None:
                log.exception("unhandled", method=request.method, path=request.url.path)
                return error_response(500, "internal", f"unexpected {type(exc).__name__}; logged")
            if outage.dependency is not None:
                self.dependencies.mark(outage.dependency, False, outage.detail)
            log.warning(
                "dependency_unavailable", dependency=outage.dependency, error=outage.detail,
                method=request.method, path=request.url.path,
            )  # fmt: skip
            error = unavailable(outage)
            return error_response(error.status, error.code, error.message, error.headers)

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        context = self._lifespan(self) if self._lifespan else contextlib.nullcontext()
        try:
            await context.__aenter__()
        except Exception as exc:
            log.exception("startup_failed")
            await send({"type": "lifespan.startup.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await context.__aexit__(None, None, None)
        finally:
            await send({"type": "lifespan.shutdown.complete"})
