"""The OpenAPI document against the code it describes, without a server: every route and
operation id, the answers every route of a kind must list, every error code the gateway can
raise, parameters typed and bounded as gateway/validation.py enforces them, links that name
real operations and parameters, and a document schemathesis loads. (The live conformance run:
tests/e2e/test_openapi_schemathesis.py.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from gateway import consistency
from gateway.app import API, ROUTES, openapi_document
from gateway.errors import ApiError
from gateway.openapi import PATH_PARAMETERS
from gateway.openapi_schemas import EXAMPLES, FORM_TAGS, ID_PATTERN
from gateway.validation import (
    COMMENT_TEXT,
    LIMIT_DEFAULT,
    LIMIT_MAX,
    TAG_INPUT,
    USERNAME_INPUT,
    comment_text,
    tags_value,
    username_field,
)
from infra.settings import Settings
from schemas.ids import parse_id

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
DOC = openapi_document()
OPS = {(m.upper(), p): op for p, item in DOC["paths"].items() for m, op in item.items()
       if m != "servers"}  # fmt: skip
API_OPS = {(m, p): OPS[(m, p)] for m, p, _, _ in API}
# codes the dispatcher answers for no operation in particular (unknown path, other method) or
# never by design (a bug: 500)
GLOBAL_CODES = {"not_found", "method_not_allowed", "internal"}
# successful writes that append no event, so answer no Photofeed-Position
NO_EVENTS = {("create_session", "200"), ("logout_current", "204"), ("logout_everywhere", "204"),
             ("change_password", "200"), ("create_photo", "200")}  # fmt: skip


def codes_of(answer: dict[str, Any]) -> set[str]:
    schema = answer["content"]["application/json"]["schema"]
    code = schema.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
    return set(code.get("enum", []))


def param(op: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in op["parameters"] if p["name"] == name]
    assert len(found) == 1, (name, op["operationId"])
    return found[0]


def test_every_api_route_is_one_operation_with_a_unique_id() -> None:
    served = {(r.method, r.path.removeprefix("/api/v1")) for r in ROUTES
              if r.path.startswith("/api/v1")}  # fmt: skip
    assert served == set(API_OPS)
    ids = [op["operationId"] for op in OPS.values()]
    assert len(ids) == len(set(ids))
    assert all(op.get("tags") for op in OPS.values())


def test_every_operation_lists_the_answers_of_its_kind() -> None:
    for (method, path), op in API_OPS.items():
        answers = op["responses"]
        assert {"invalid_position"} <= codes_of(answers["400"]), path
        assert {"unauthorized", "session_revoked", "account_erased"} <= codes_of(answers["401"])
        assert {"store_unavailable", "log_unavailable"} <= codes_of(answers["503"])
        assert answers["503"]["headers"]["Retry-After"]["$ref"].endswith("/RetryAfter")
        if any(p not in PATH_PARAMETERS for p in re.findall(r"\{([a-z_]+)\}", path)):
            assert "not_found" in codes_of(answers["404"]), path  # an id names nothing
        names = {p["name"] for p in op["parameters"]}
        if "cursor" in names:
            assert "invalid_cursor" in codes_of(answers["400"]), path
        if "limit" in names:
            assert "invalid_field" in codes_of(answers["422"]), path
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            assert "malformed_json" in codes_of(answers["400"]), path
            assert {"413", "415", "422"} <= set(answers), path
        if "429" in answers:
            assert "rate_limited" in codes_of(answers["429"]), path
            assert "Retry-After" in answers["429"]["headers"], path
        required = op["security"] == [{"bearer": []}]
        assert required or op["security"] == [{}, {"bearer": []}], path
        for status, answer in answers.items():
            carries = "Photofeed-Position" in answer.get("headers", {})
            appends = method != "GET" and (op["operationId"], status) not in NO_EVENTS
            settled = (method, path) in consistency.SETTLED and status == "200"
            assert carries == ((appends and status.startswith("2")) or settled), (path, status)


def _raised_codes() -> set[str]:
    """Every literal error code in gateway/: ApiError(status, "code", ...), error_response(...),
    bad_request(..., "code") and dict entries like (422, "invalid_part", ...)."""
    codes: set[str] = set()
    for module in GATEWAY.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "ApiError", "error_response", "bad_request"):  # fmt: skip
                codes |= {_code(a) for a in node.args[1:2]} - {""}  # the code is the 2nd
            if isinstance(node, ast.Tuple) and len(node.elts) == 3:
                status, code = node.elts[0], node.elts[1]
                if isinstance(status, ast.Constant) and isinstance(status.value, int):
                    codes |= {_code(code)} - {""}
    return codes


def _code(node: ast.expr) -> str:
    text = node.value if isinstance(node, ast.Constant) else None
    return text if isinstance(text, str) and re.fullmatch(r"[a-z]+_[a-z_]+|[a-z]+", text) else ""


def test_every_error_code_the_gateway_raises_is_documented() -> None:
    documented = {c for op in OPS.values() for status, answer in op["responses"].items()
                  if int(status) >= 400 for c in codes_of(answer)}  # fmt: skip
    for op in API_OPS.values():  # every error answer names its codes
        assert all(codes_of(a) for s, a in op["responses"].items() if int(s) >= 400), op
    raised = _raised_codes()
    assert {"username_taken", "invalid_part", "upload_not_found", "gone"} <= raised  # the scan
    assert raised - GLOBAL_CODES <= documented, raised - GLOBAL_CODES - documented
    assert documented <= raised | {"store_unavailable", "log_unavailable", "invalid_field",
                                   "overloaded", "rate_limited", "invalid_position"}  # fmt: skip


def test_parameters_are_typed_and_bounded_as_validation_enforces() -> None:
    for (_, path), op in API_OPS.items():
        for p in op["parameters"]:
            if p["in"] == "path":
                assert p["required"], path
                pattern = TAG_INPUT if p["name"] == "tag" else ID_PATTERN
                assert p["schema"]["pattern"] == pattern, path
        names = {p["name"] for p in op["parameters"]}
        if "limit" in names:
            assert param(op, "limit")["schema"] == {
                "type": "integer",
                "minimum": 1,
                "maximum": LIMIT_MAX,
                "default": LIMIT_DEFAULT,
            }
    q = param(OPS[("GET", "/search")], "q")
    assert q["required"]
    assert q["schema"]["maxLength"] == 200
    size = param(OPS[("GET", "/photos/{photo_id}")], "size")["schema"]
    assert size["enum"] == ["thumbnail", "feed", "full"]


@given(st.from_regex(ID_PATTERN, fullmatch=True))
def test_the_id_pattern_admits_only_ids_the_gateway_parses(text: str) -> None:
    assert parse_id(text) is not None or int(text) >= 2**63


@given(st.from_regex(USERNAME_INPUT.removesuffix("$") + r"\Z", fullmatch=True))
def test_usernames_the_document_allows_are_accepted(raw: str) -> None:
    assert username_field({"username": raw}) == raw.strip(" ").lower()


@pytest.mark.parametrize("raw", ["\u212aate", "ana\n", "\tana", "an a", "a", "é" * 5, ".ana"])
def test_usernames_the_document_refuses_are_refused(raw: str) -> None:
    assert not re.fullmatch(USERNAME_INPUT.removesuffix("$"), raw)
    with pytest.raises(ApiError) as info:
        username_field({"username": raw})
    assert info.value.status == 422


@given(st.from_regex(COMMENT_TEXT.removesuffix("$") + r"\Z", fullmatch=True).filter(
    lambda t: len(t) <= 2200))  # fmt: skip
def test_comments_the_document_allows_are_accepted(text: str) -> None:
    assert comment_text({"text": text}) == text.strip()


@given(st.lists(st.from_regex(TAG_INPUT.removesuffix("$") + r"\Z", fullmatch=True), max_size=30))
def test_tags_the_document_allows_are_accepted(tags: list[str]) -> None:
    assert len(tags_value(tags)) <= len(tags)


@given(st.from_regex(FORM_TAGS.removesuffix("$") + r"\Z", fullmatch=True))
def test_form_tags_the_document_allows_are_accepted(raw: str) -> None:
    tags = [t.strip() for t in raw.replace(",", " ").split() if t.strip()]
    assert len(tags_value(tags)) <= 30


def test_links_name_real_operations_and_parameters() -> None:
    by_id = {op["operationId"]: op for op in OPS.values()}
    count = 0
    for op in OPS.values():
        for answer in op["responses"].values():
            for name, link in answer.get("links", {}).items():
                target = by_id[link["operationId"]]
                names = {p["name"] for p in target["parameters"]}
                for key in link["parameters"]:
                    assert key.split(".", 1)[-1] in names, (op["operationId"], name, key)
                count += 1
    assert count >= 30
    register = OPS[("POST", "/users")]["responses"]["201"]["links"]
    assert register["GetUser"]["parameters"]["user_id"] == "$response.body#/user_id"
    feed = OPS[("GET", "/feed")]["responses"]["200"]["links"]["NextPage"]
    assert feed == {"operationId": "home_feed", "description": "the next page",
                    "parameters": {"cursor": "$response.body#/next_cursor"}}  # fmt: skip


def test_settled_upload_tokens_and_reads_match_read_your_writes() -> None:
    handing = {k for k, op in API_OPS.items() if "Photofeed-Position" in
               op["responses"].get("200", {}).get("headers", {}) and k[0] == "GET"}  # fmt: skip
    assert handing == set(consistency.SETTLED)
    assert set(consistency.READS) == set(API_OPS)


def test_upload_bounds_are_the_settings() -> None:
    settings = Settings(max_upload_bytes=1234, direct_upload_max_bytes=99)
    schemas = openapi_document(settings)["components"]["schemas"]
    assert schemas["PhotoUpload"]["properties"]["size_bytes"]["maximum"] == 1234
    assert "99 bytes" in schemas["DirectUpload"]["properties"]["photo"]["description"]


def test_examples_are_valid_bodies() -> None:
    assert username_field(EXAMPLES["Credentials"]) == "ana"
    assert comment_text(EXAMPLES["CommentBody"]) == "what a light!"


def test_schemathesis_loads_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(DOC)
    results = list(schema.get_all_operations())
    assert len(results) == len(OPS)
    assert all(isinstance(r, Ok) for r in results), [r for r in results if not isinstance(r, Ok)]
