"""The OpenAPI 3.1 document served at `/openapi.json`, built from the routes list's own metadata.

Every route in `gateway.app.API` carries an `Op`: its summary, the answers particular to it, and
traits (auth, JSON body, query parameters, Idempotency-Key). The answers every route of a kind
has are added from the traits, so no route can forget one:

- any route: 401 for a bad, revoked or erased-account bearer token (a token is optional on
  every route and checked whenever sent); 503 + Retry-After when a dependency is down;
- a path id: 404 (an id that is not a canonical decimal is unknown too);
- `limit`: 422; `cursor`: 400 `invalid_cursor`;
- a JSON body: 400 `malformed_json`, 413, 415, 422 `invalid_field`;
- Idempotency-Key: 400 for a bad key, 409 + Retry-After in progress, 422 reused, and the
  `Idempotent-Replayed` header on a replayed answer;
- read-your-writes (gateway/consistency.py), on every route: the `Photofeed-Position` request
  header (400 `invalid_position` when malformed), `Photofeed-Consistency` on answers to
  requests that sent it, and `Photofeed-Position` on answers to requests that appended events
  (and of the routes that hand out the token of a settled upload): `Op.positions`. A link from
  such an answer passes the token on.

Error codes are written in backticks in the answers' descriptions; each error answer's schema
enumerates exactly those codes, so a client can switch on them and schemathesis
(tests/e2e/test_openapi_schemathesis.py) fails when the gateway sends an undocumented one.
A method a path does not serve is 405 with `Allow` (the dispatcher, for every path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gateway.idempotency import MAX_KEY_CHARS
from gateway.openapi_schemas import ID, Limits, component_schemas
from gateway.validation import LIMIT_DEFAULT, LIMIT_MAX, TAG_INPUT
from infra.positions import MAX_TOKEN_CHARS
from projections.search.logic import MAX_QUERY_CHARS, MAX_TERMS
from schemas.media import ACCEPTED_TYPES, VARIANTS

Doc = dict[str, Any]
_CODE = re.compile(r"`([a-z][a-z_]*)`")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

BAD_TOKEN = (
    "the bearer token is malformed, forged or expired (`unauthorized`), its session was logged "
    "out (`session_revoked`), or its account was erased (`account_erased`)"
)
UNAVAILABLE = (
    "a dependency is down (`store_unavailable`, `log_unavailable`); Retry-After. A command that "
    "got it may still have been recorded: retry with the same Idempotency-Key"
)
POSITION = "the Photofeed-Position header is not a token this API issued (`invalid_position`)"
BAD_JSON = {
    400: "the body is not a JSON object (`malformed_json`)",
    413: "the body is over 64 KiB (`payload_too_large`)",
    415: "the body is not application/json (`unsupported_media_type`)",
    422: "a field is missing or invalid (`invalid_field`); the message names it",
}
KEYED = {
    400: "the Idempotency-Key is not 1-255 visible ASCII characters (`invalid_idempotency_key`)",
    409: "an attempt with this Idempotency-Key is in progress (`request_in_progress`); Retry-After",
    413: "the body is over the spooling cap (`payload_too_large`)",
    422: "this Idempotency-Key was used with another body (`idempotency_key_reused`)",
}

PARAMETERS: Doc = {
    "limit": {"name": "limit", "in": "query", "required": False, "description": "page size",
              "schema": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX,
                         "default": LIMIT_DEFAULT}},
    "cursor": {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "opaque: a next_cursor this API handed out (any other value is "
                              "400 invalid_cursor); pages stay stable while new rows arrive"},
    "q": {"name": "q", "in": "query", "required": True,
          "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS,
                     "pattern": r"\w|@[.]"},
          "description": "words (stemmed), #tags (exact), @name (username prefix), de-duplicated;"
                         f" a q with none (the pattern) or over {MAX_TERMS} is 422"},
    "size": {"name": "size", "in": "query", "required": False,
             "schema": {"type": "string", "enum": list(VARIANTS), "default": "feed"},
             "description": "thumbnail 150x150 crop; feed fits 640x640; full fits 1080x1080"},
    "IdempotencyKey": {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS,
                   "pattern": "^[!-~]+$"},
        "description": "A unique key (a UUID) per intended command. A retry with the same key "
                       "and body answers the first answer again (header Idempotent-Replayed: "
                       "true) and changes nothing; after a 503 it applies the command at most "
                       "once. Kept 24 h, per caller (globally for registration). Same key, other "
                       "body: 422 idempotency_key_reused; while the first attempt runs: 409 "
                       "request_in_progress with Retry-After.",
    },
    "PositionIn": {
        "name": "Photofeed-Position", "in": "header", "required": False,
        "schema": {"type": "string"},
        "description": "read-your-writes: the newest Photofeed-Position answered to you (several "
                       "may be joined by commas). The request first waits, at most "
                       "PHOTOFEED_CONSISTENCY_WAIT_S, until every projection the route reads "
                       "applied it, then answers with Photofeed-Consistency. Opaque: anything "
                       f"this API did not issue (or over {MAX_TOKEN_CHARS} characters) is 400 "
                       "invalid_position",
    },
}  # fmt: skip
# path parameters that are not ids (every other one is: ID)
PATH_PARAMETERS: Doc = {
    "tag": {"type": "string", "pattern": TAG_INPUT,
            "description": "letters (any script), digits or _ (after the first, a word's "
                           "combining marks too, as in a caption's hashtag), after an optional "
                           "# (sent as %23); normalised as captions' hashtags are: NFKC, "
                           "case-folded"},
}  # fmt: skip
HEADERS: Doc = {
    "RetryAfter": {"required": True, "description": "seconds to wait before retrying",
                   "schema": {"type": "integer", "minimum": 1}},
    "MaybeRetryAfter": {"required": False, "description": "seconds to wait (when the code "
                        "says to retry)", "schema": {"type": "integer", "minimum": 1}},
    "WWWAuthenticate": {"required": False, "schema": {"type": "string"}},
    "Location": {"required": True, "description": "the variant's immutable URL",
                 "schema": {"type": "string", "format": "uri"}},
    "CacheControl": {"required": True, "schema": {"type": "string"}},
    "IdempotentReplayed": {"required": False, "description": "`true` when this is the stored "
                           "answer of an earlier attempt with the same Idempotency-Key",
                           "schema": {"const": "true"}},
    "PositionOut": {"required": False, "description": "read-your-writes: an opaque token of "
                    "where the events of this request (merged with the token it sent) sit in "
                    "the log; send it as Photofeed-Position with later requests",
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}},
    "Consistency": {"required": False, "description": "answered when the request carried "
                    "Photofeed-Position: `applied` (its writes are visible in this answer) or "
                    "`stale` (the wait ran out first; a 404 may be the lag)",
                    "schema": {"type": "string", "enum": ["applied", "stale"]}},
}  # fmt: skip


@dataclass(frozen=True)
class Op:
    """What the document says about one route (the dispatcher serves it under /api/v1)."""

    summary: str
    answers: dict[int, str]  # status -> "#Schema: description" (a JSON body) or "description"
    auth: bool = False  # a bearer token is required (401 without one)
    body: str | None = None  # component schema of the JSON body
    body_optional: bool = False
    form: str | None = None  # component schema of a multipart/form-data body
    params: list[str] = field(default_factory=list)  # query parameters (PARAMETERS keys)
    idempotent: bool = False  # takes Idempotency-Key (gateway/idempotency.py)
    outages: bool = True  # an API route: 503 when a dependency is down, read-your-writes
    positions: tuple[int, ...] | None = None  # statuses answering Photofeed-Position; None:
    # every 2xx of a write (POST, PUT, PATCH, DELETE: they append events), none of a read
    links: dict[int, dict[str, Doc]] = field(default_factory=dict)  # status -> name -> Link
    tag: str = ""  # the group it is listed under (TAGS)

    def position_statuses(self, method: str) -> tuple[int, ...]:
        """The statuses whose answers carry Photofeed-Position (see `positions`)."""
        if self.positions is not None:
            return self.positions
        return tuple(s for s in self.answers if 200 <= s < 300) if method in WRITE_METHODS else ()

    def all_answers(self, path: str) -> dict[int, str]:
        """The declared answers plus those every route of its kinds has (module docstring)."""
        extra: dict[int, list[str]] = {}

        def add(status: int, text: str) -> None:
            extra.setdefault(status, []).append(text)

        add(401, ("no bearer token (`unauthorized`), or " if self.auth else "") + BAD_TOKEN)
        if self.outages:
            add(503, UNAVAILABLE)
            add(400, POSITION)
        if any(p not in PATH_PARAMETERS for p in re.findall(r"\{([a-z_]+)\}", path)):
            add(404, "no such resource (`not_found`): an id that is not a decimal of 1 to 19 "
                     "digits without a leading zero names none")  # fmt: skip
        if "limit" in self.params:
            add(422, f"limit is not an integer from 1 to {LIMIT_MAX} (`invalid_field`)")
        if "cursor" in self.params:
            add(400, "the cursor is not one this API handed out (`invalid_cursor`)")
        for status, text in BAD_JSON.items() if self.body else ():
            add(status, text)
        for status, text in KEYED.items() if self.idempotent else ():
            add(status, text)
        answers = dict(self.answers)
        for status, texts in extra.items():
            text = "; or ".join(texts)
            answers[status] = f"{answers[status]}; or {text}" if status in answers else text
        return answers

    def document(self, method: str, path: str, operation_id: str) -> Doc:
        doc: Doc = {"operationId": operation_id, "summary": self.summary}
        if self.tag:
            doc["tags"] = [self.tag]
        params: list[Doc] = [
            {"name": p, "in": "path", "required": True, "schema": PATH_PARAMETERS.get(p, ID)}
            for p in re.findall(r"\{([a-z_]+)\}", path)
        ] + [_param_ref(q) for q in self.params]
        if self.idempotent:
            params.append(_param_ref("IdempotencyKey"))
        if self.outages:
            params.append(_param_ref("PositionIn"))
        doc["parameters"] = params
        doc["security"] = [{"bearer": []}] if self.auth else [{}, {"bearer": []}]
        content: Doc = {}
        if self.body:
            content["application/json"] = {"schema": _ref(self.body)}
        if self.form:
            content["multipart/form-data"] = {"schema": _ref(self.form), "encoding": {
                "photo": {"contentType": ", ".join(sorted(ACCEPTED_TYPES))}}}  # fmt: skip
        if content:
            doc["requestBody"] = {"required": not self.body_optional, "content": content}
        doc["responses"] = {
            str(status): self._answer(method, status, text)
            for status, text in sorted(self.all_answers(path).items())
        }
        return doc

    def _answer(self, method: str, status: int, text: str) -> Doc:
        schema, _, description = text.partition(": ") if text.startswith("#") else ("", "", text)
        answer: Doc = {"description": description}
        if schema:
            answer["content"] = {"application/json": {"schema": _ref(schema.lstrip("#"))}}
        elif status >= 400:
            answer["content"] = {"application/json": {"schema": error_schema(description)}}
        headers = _headers(method, status, self)
        if headers:
            answer["headers"] = {name: {"$ref": f"#/components/headers/{ref}"}
                                 for name, ref in headers.items()}  # fmt: skip
        if status in self.links:
            answer["links"] = {n: _carry_position(link, headers) for n, link in
                               self.links[status].items()}  # fmt: skip
        return answer


def _headers(method: str, status: int, op: Op) -> dict[str, str]:
    """Response header name -> component, by status and kind of operation."""
    out: dict[str, str] = {}
    if status in (429, 503):
        out["Retry-After"] = "RetryAfter"
    elif status == 409 and op.idempotent:
        out["Retry-After"] = "MaybeRetryAfter"
    elif status == 401:
        out["WWW-Authenticate"] = "WWWAuthenticate"
    elif status == 302:
        out |= {"Location": "Location", "Cache-Control": "CacheControl"}
    if not op.outages or status in (401, 503):
        return out  # answered before (or without) the read-your-writes step
    out["Photofeed-Consistency"] = "Consistency"
    if 200 <= status < 300:
        if op.idempotent:
            out["Idempotent-Replayed"] = "IdempotentReplayed"
        if status in op.position_statuses(method):
            out["Photofeed-Position"] = "PositionOut"
    return out


def _carry_position(link: Doc, headers: dict[str, str]) -> Doc:
    """A link from an answer that carries a read-your-writes token passes it on, so the
    operation it leads to sees the write (a new account's profile, a new post)."""
    if "Photofeed-Position" not in headers:
        return link
    carried = {"header.Photofeed-Position": "$response.header.Photofeed-Position"}
    return {**link, "parameters": {**link["parameters"], **carried}}


def error_schema(description: str) -> Doc:
    """The Error shape with `code` limited to the codes the description names."""
    codes = sorted(set(_CODE.findall(description)))
    if not codes:
        return _ref("Error")
    return {"allOf": [_ref("Error")], "properties": {"error": {"properties": {
        "code": {"type": "string", "enum": codes}}}}}  # fmt: skip


def link(operation_id: str, description: str = "", **parameters: str) -> Doc:
    """A Link to `operation_id`; parameters map names to runtime expressions."""
    out: Doc = {"operationId": operation_id, "parameters": parameters}
    if description:
        out["description"] = description
    return out


def next_page(operation_id: str, path: str, params: list[str]) -> Doc:
    """The Link from a page to the one after it: same operation, same path and query, the
    page's next_cursor (null on the last page: there is none)."""
    keep = {p: f"$request.path.{p}" for p in re.findall(r"\{([a-z_]+)\}", path)}
    if "q" in params:
        keep["q"] = "$request.query.q"
    return link(operation_id, "the next page", **keep, cursor="$response.body#/next_cursor")


def _ref(name: str) -> Doc:
    return {"$ref": f"#/components/schemas/{name}"}


def _param_ref(name: str) -> Doc:
    """The parameter inline (clients and tests read `name` without resolving refs)."""
    return dict(PARAMETERS[name])


SYSTEM = [  # outside the base path: (path, operationId, Op)
    ("/healthz", "healthz", Op(
        "Liveness: 200 while the process serves, with each dependency's last known state (no "
        "I/O)", {200: "#Health: alive"}, outages=False)),
    ("/readyz", "readyz", Op(
        "Readiness: checks the broker, Valkey and S3 now, concurrently, each bounded by the "
        "dependency timeout", {200: "#Readiness: every dependency answers",
                               503: "#Readiness: which checks failed (Retry-After)"},
        outages=False)),
]  # fmt: skip
DESCRIPTION = (
    'Errors are `{"error": {"code", "message"}}`; each answer lists its codes. A bearer token '
    "names one session: any route given a malformed, expired or revoked token, or one of an "
    "erased account, answers 401; routes that do not require one use it to personalise "
    "(followed_by_viewer, liked_by_viewer). Limits answer 429 with Retry-After: uploads, "
    "follows, likes and comments per user; registrations per client address; failed logins "
    "per username and per address (growing waits, reset by a success). A dependency outage is "
    "503 with Retry-After, never 500. A method a path does not serve answers 405 with Allow. "
    "Projections are eventually consistent: send a write's Photofeed-Position header back with "
    "a read to wait for it. The reference for people: docs/API.md."
)


TAGS = [  # the groups of the docs page, in order (Op.tag; gateway/app.py sets them)
    {"name": "accounts", "description": "registration, profiles, the follow graph, erasure"},
    {"name": "blocks", "description": "blocks and mutes"},
    {"name": "follow_requests", "description": "requests to follow a private account: the "
     "pending list, approve, reject"},
    {"name": "sessions", "description": "log in, log out, password change"},
    {"name": "posts", "description": "home feed, profile grid, single posts"},
    {"name": "engagement", "description": "likes and comments"},
    {"name": "photos", "description": "uploads (presigned, S3 multipart, direct), status, "
     "variants"},
    {"name": "search", "description": "caption words, #tags, @names"},
    {"name": "notifications", "description": "grouped activity, mark read"},
    {"name": "system", "description": "liveness and readiness (outside /api/v1)"},
]  # fmt: skip


def build_document(operations: list[tuple[str, str, str, Op]], limits: Limits) -> Doc:
    """`operations` are (method, path, operationId, Op); paths are given without the /api/v1
    base. `limits` are the settings published as bounds (upload sizes)."""
    paths: dict[str, Doc] = {}
    for method, path, operation_id, op in operations:
        paths.setdefault(path, {})[method.lower()] = op.document(method, path, operation_id)
    for path, operation_id, op in SYSTEM:
        doc = op.document("GET", path, operation_id) | {"tags": ["system"]}
        doc["security"] = []
        doc["responses"].pop("401", None)  # served without the session check
        paths[path] = {"servers": [{"url": "/"}], "get": doc}
    return {
        "openapi": "3.1.0",
        "info": {"title": "photofeed", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": component_schemas(limits),
            "headers": HEADERS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "POST /sessions answers the token",
                }
            },
        },
    }
