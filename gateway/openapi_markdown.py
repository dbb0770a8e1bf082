"""The endpoint reference of docs/API.md, rendered from the OpenAPI document, so the page for
people and `/openapi.json` cannot disagree: the part between MARKERS is generated, the prose
around it is written by hand. tests/unit/test_openapi_markdown.py fails when the file is stale.

    .venv/bin/python -m gateway.openapi_markdown docs/API.md    # rewrite the generated part
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gateway.app import openapi_document
from gateway.openapi import BAD_TOKEN, POSITION, UNAVAILABLE
from gateway.openapi_schemas import ID, ID_PATTERN

COMMON = {BAD_TOKEN, UNAVAILABLE, POSITION}  # every route's: the prose above the tables says them
AUTH = "no bearer token (`unauthorized`), or "

BEGIN = "<!-- BEGIN GENERATED: python -m gateway.openapi_markdown docs/API.md -->"
END = "<!-- END GENERATED -->"


def _type(schema: dict[str, Any]) -> str:
    """A short type: `integer 1..100 (default 20)`, `id`, `string|null`, `array of Post`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return "|".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    text = "|".join(kind) if isinstance(kind, list) else str(kind)
    if schema.get("pattern") == ID_PATTERN:
        return text.replace("string", "id")
    if "items" in schema:
        return f"{text.replace('array', 'array of ' + _type(schema['items']))}"
    low = schema.get("minimum", schema.get("minLength"))
    high = schema.get("maximum", schema.get("maxLength"))
    if low is not None or high is not None:
        text += f" {'' if low is None else low}..{'' if high is None else high}"
    if "pattern" in schema:
        text += f" `{schema['pattern']}`"
    if "default" in schema:
        text += f" (default {schema['default']})"
    return text


def _ref_name(content: dict[str, Any]) -> str:
    schema = content.get("schema", {})
    ref = schema.get("$ref") or next((s["$ref"] for s in schema.get("allOf", [])), "")
    return str(ref).rsplit("/", 1)[-1]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def operation(method: str, path: str, op: dict[str, Any], base: str) -> list[str]:
    auth = "bearer token required" if op["security"] == [{"bearer": []}] else (
        "no token needed (one is checked when sent)" if op["security"] else "no token")  # fmt: skip
    lines = [f"### `{method.upper()} {base}{path}`", "", f"{op['summary']}. *{auth}*", ""]
    params = [p for p in op.get("parameters", []) if p["name"] != "Photofeed-Position"]
    if params:
        lines.append("Parameters: " + "; ".join(
            f"`{p['name']}` ({p['in']}{', required' if p.get('required') else ''}: "
            f"{_type(p['schema'])})" for p in params) + ".")  # fmt: skip
    body = op.get("requestBody")
    if body:
        kinds = ", ".join(f"`{k}` {_ref_name(v)}" for k, v in body["content"].items())
        lines.append(f"Body{'' if body['required'] else ' (optional)'}: {kinds}.")
    if params or body:
        lines.append("")
    lines += ["| status | when | body, headers |", "|---|---|---|"]
    for status, answer in op["responses"].items():
        parts = [AUTH.removesuffix(", or ") if t == AUTH + BAD_TOKEN else t
                 for t in answer["description"].split("; or ") if t not in COMMON]  # fmt: skip
        if not parts:
            continue
        content = answer.get("content", {}).get("application/json")
        shape = _ref_name(content) if content else ""
        headers = [h for h in answer.get("headers", {}) if h not in (
            "Photofeed-Consistency", "Photofeed-Position", "WWW-Authenticate")]  # fmt: skip
        extra = ", ".join([shape, *headers]) if shape else ", ".join(headers)
        lines.append(f"| {status} | {_cell('; or '.join(parts))} | {extra} |")
    return [*lines, ""]


def shape(name: str, schema: dict[str, Any]) -> list[str]:
    """A component schema as a field list."""
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = [f"`{k}`{'' if k in required else '?'} {_type(v)}" + (
        f" ({v['description']})" if v.get("description", ID["description"]) != ID["description"]
        else "") for k, v in props.items()]  # fmt: skip
    return [f"- **{name}**: " + ("; ".join(fields) if fields else "an object") + "."]


def render() -> str:
    """The generated part (without the markers)."""
    doc = openapi_document()
    base = doc["servers"][0]["url"]
    out: list[str] = []
    for tag in doc["tags"]:
        out += [f"## {tag['name'].capitalize()}: {tag['description']}", ""]
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if method != "servers" and tag["name"] in op.get("tags", []):
                    out += operation(method, path, op, "" if "servers" in item else base)
    out += ["## Shapes", "", "`name?` marks a field that may be absent.", ""]
    for name, schema in doc["components"]["schemas"].items():
        out += shape(name, schema)
    return "\n".join(out).rstrip() + "\n"


def rewrite(text: str) -> str:
    """`text` with its generated part replaced by a fresh one."""
    head, found, rest = text.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"the markers {BEGIN!r} and {END!r} are missing")
    return f"{head}{BEGIN}\n\n{render()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "docs/API.md")
    path.write_text(rewrite(path.read_text()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
