"""docs/API.md's endpoint reference is the OpenAPI document's (gateway/openapi_markdown.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import API
from gateway.openapi_markdown import BEGIN, END, render, rewrite

API_MD = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def test_the_generated_reference_in_docs_api_md_is_current() -> None:
    text = API_MD.read_text()
    assert rewrite(text) == text, "stale: run `.venv/bin/python -m gateway.openapi_markdown`"


def test_the_reference_lists_every_route_once() -> None:
    reference = render()
    for method, path, _, _ in API:
        assert reference.count(f"### `{method} /api/v1{path}`") == 1, (method, path)


def test_rewrite_needs_its_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        rewrite("no markers here")
    assert rewrite(f"a\n{BEGIN}\nold\n{END}\nb").startswith(f"a\n{BEGIN}\n\n## Accounts")
