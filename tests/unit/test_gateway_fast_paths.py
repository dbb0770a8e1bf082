"""The gateway's per-request shortcuts answer as the generic code they replace: query strings
split without urllib, routes found through the template index, JSON answers built without
Starlette's generic steps, and verified tokens kept per signer."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from gateway.app import ROUTES
from gateway.asgi import Dispatcher, Route, query_params
from gateway.responses import JsonBytes, json_response
from gateway.tokens import VERIFIED_CACHE, InvalidToken, TokenSigner

# query strings ----------------------------------------------------------------------------------

QUERY_CHARS = st.sampled_from([*"ab=&%+;_-.~ 09", "%20", "%2", "é", "\x00", "=="])


@given(st.lists(QUERY_CHARS, max_size=30).map("".join))
@example("limit=20&cursor=MTc5NjA1MTExODc4Ni4yNTM")
@example("&&a=&=x&b==c&a=2&flag")
def test_query_strings_split_as_starlette_splits_them(text: str) -> None:
    raw = text.encode("latin-1")
    ours, theirs = query_params(raw), QueryParams(raw)
    assert ours.multi_items() == theirs.multi_items()
    assert dict(ours) == dict(theirs)
    assert ours == theirs
    for name in {k for k, _ in theirs.multi_items()} | {"a", "limit"}:
        assert ours.get(name) == theirs.get(name)
        assert ours.getlist(name) == theirs.getlist(name)


def test_a_request_reads_the_query_once() -> None:
    from gateway.asgi import _Request

    request = _Request({"type": "http", "query_string": b"limit=5&cursor=x", "headers": []})
    assert request.query_params is request.query_params
    assert request.query_params.get("limit") == "5"
    assert isinstance(request, Request)


# routes -----------------------------------------------------------------------------------------

SEGMENTS = [
    *("api", "v1", "users", "me", "posts", "123", "comments", "follow", "follow-requests"),
    *("approve", "web", "docs", "x.js", "", "a\n", "\n", "comments\n", "photos", "status"),
    *("tags", "%20", "feed", "openapi.json", "likes", "blocks", "mutes", "complete"),
]


def looping(routes: list[Route]) -> Dispatcher:
    """The dispatcher without its index: every route's own pattern, in order."""
    app = Dispatcher(routes)
    app._index = None
    return app


@pytest.fixture(scope="module")
def apps() -> tuple[Dispatcher, Dispatcher]:
    return Dispatcher(ROUTES), looping(ROUTES)


def test_the_project_routes_are_indexed(apps: tuple[Dispatcher, Dispatcher]) -> None:
    assert apps[0]._index is not None  # no two templates fit one path


@given(st.lists(st.sampled_from(SEGMENTS), max_size=7), st.booleans(),
       st.sampled_from(["GET", "POST", "DELETE", "PATCH"]))  # fmt: skip
def test_a_path_finds_what_the_loop_over_the_routes_finds(
    apps: tuple[Dispatcher, Dispatcher], segments: list[str], api: bool, method: str
) -> None:
    path = ("/api/v1/" if api else "/") + "/".join(segments)
    indexed, loop = apps
    assert indexed.match(method, path) == loop.match(method, path)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_is_found_with_its_parameters(
    apps: tuple[Dispatcher, Dispatcher], route: Route
) -> None:
    path = route.path.replace("{", "v_").replace("}", "")
    for variant in (path, path + "\n", path + "/", path.replace("v_", "")):
        for method in ("GET", "POST", "DELETE", "PUT"):
            assert apps[0].match(method, variant) == apps[1].match(method, variant), variant
    found, params, template = apps[0].match(route.method, path)
    assert (found, template) == (route, route.path)
    assert all(value.startswith("v_") for value in params.values())


async def ok(_request: Request) -> Response:
    return Response(status_code=204)


def test_templates_that_could_fit_one_path_are_left_to_the_loop() -> None:
    routes = [Route("GET", "/a/{x}/c", ok), Route("POST", "/a/b/{y}", ok)]
    app = Dispatcher(routes)
    assert app._index is None
    assert app.match("POST", "/a/b/c")[2] == "/a/b/{y}"
    assert app.match("GET", "/a/b/c")[2] == "/a/{x}/c"


# JSON answers -----------------------------------------------------------------------------------


async def messages(response: Response) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("nothing is read")

    async def send(message: Any) -> None:
        sent.append(message)

    await response({"type": "http"}, receive, send)
    return sent


HEADERS = [None, {"Retry-After": "2"}, {"Allow": "GET, POST", "Content-Type": "x/y"},
           {"content-length": "3"}, {}]  # fmt: skip


@pytest.mark.parametrize("status", [200, 201, 202, 204, 304, 400, 404, 405, 503])
@pytest.mark.parametrize("headers", HEADERS)
async def test_json_answers_are_starlettes(status: int, headers: dict[str, str] | None) -> None:
    body = b'{"error":{"code":"x","message":"\xc3\xa9"}}'
    ours = JsonBytes(body, status, headers)
    theirs = Response(body, status, headers, media_type="application/json")
    assert ours.raw_headers == theirs.raw_headers
    assert (ours.status_code, ours.body) == (theirs.status_code, theirs.body)
    assert await messages(ours) == await messages(theirs)
    ours.headers["Photofeed-Position"] = "t"  # the read-your-writes wrapper adds headers
    theirs.headers["Photofeed-Position"] = "t"
    assert await messages(ours) == await messages(theirs)


def test_json_response_renders_with_orjson() -> None:
    response = json_response({"a": [1, "é"]}, 201, {"Location": "/x"})
    assert response.body == '{"a":[1,"é"]}'.encode()
    assert response.status_code == 201
    assert response.headers["location"] == "/x"
    assert response.headers["content-type"] == "application/json"


# verified tokens --------------------------------------------------------------------------------

NOW = 1_750_000_000


def test_a_verified_token_is_kept_and_still_expires() -> None:
    signer = TokenSigner("s" * 32, 100)
    token, expires = signer.issue(7, NOW, epoch=3)
    first = signer.claims(token, NOW)
    assert signer.claims(token, NOW + 1) is first  # kept: not parsed and signed again
    assert signer.claims(token, expires - 1).user_id == 7
    with pytest.raises(InvalidToken, match="expired"):
        signer.claims(token, expires)


def test_an_expired_token_is_refused_the_first_time_too() -> None:
    signer = TokenSigner("s" * 32, 100)
    token, expires = signer.issue(7, NOW)
    with pytest.raises(InvalidToken, match="expired"):
        signer.claims(token, expires + 5)
    with pytest.raises(InvalidToken, match="expired"):
        signer.claims(token, expires + 5)


def test_refused_tokens_are_not_kept_and_the_kept_ones_are_bounded() -> None:
    signer = TokenSigner("s" * 32, 100)
    token, _ = signer.issue(7, NOW)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for _ in range(2):
        with pytest.raises(InvalidToken, match="signature"):
            signer.claims(forged, NOW)
    assert forged not in signer._verified
    tokens = [signer.issue(i, NOW)[0] for i in range(1, VERIFIED_CACHE + 11)]
    for t in tokens:
        signer.claims(t, NOW)
    assert len(signer._verified) == VERIFIED_CACHE
    assert tokens[0] not in signer._verified  # the oldest went first
    assert signer.claims(tokens[0], NOW).user_id == 1  # and is verified again when it comes back
