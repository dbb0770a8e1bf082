"""`/openapi.json` and the `/docs` page over HTTP: the document served is the one the app
builds from the gateway's settings; the page and its assets come from this origin with the web
client's security headers (no CDN: it works offline), and nothing else is served under /docs."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.app import openapi_document
from gateway.docs import ASSETS
from gateway.web import content_security_policy
from infra.settings import Settings

pytestmark = pytest.mark.stack
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


async def test_the_served_document_is_the_apps_with_the_gateways_limits(
    gateway: str, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=gateway.removesuffix("/api/v1")) as site:
        served = (await site.get("/openapi.json")).json()
    assert served == openapi_document(settings)
    size = served["components"]["schemas"]["PhotoUpload"]["properties"]["size_bytes"]
    assert size["maximum"] == settings.max_upload_bytes


async def test_the_docs_page_and_its_assets_are_local_with_strict_headers(
    gateway: str, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=gateway.removesuffix("/api/v1")) as site:
        page = await site.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html)
        linked = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert all(u.startswith("/") for u in linked), linked  # this origin only: no CDN
        assets = [u for u in linked if u.startswith("/docs/")]
        assert {u.removeprefix("/docs/") for u in assets} >= set(ASSETS) - {"favicon-32x32.png"}
        for path in ["/docs", *assets]:
            r = await site.get(path)
            assert r.status_code == 200, path
            suffix = path[path.rfind(".") :] if "." in path else ".html"
            assert r.headers["content-type"].startswith(TYPES.get(suffix, "text/html")), path
            assert r.headers["content-security-policy"] == content_security_policy(settings)
            assert "script-src 'self'" in r.headers["content-security-policy"]
            assert r.headers["x-content-type-options"] == "nosniff"
            again = await site.get(path, headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304, path
        bundle = await site.get("/docs/swagger-ui-bundle.js")
        assert b"SwaggerUIBundle" in bundle.content
        for path in ("/docs/index.html", "/docs/swagger-ui.js.map", "/docs/..%2fapp.py",
                     "/docs/oauth2-redirect.html", "/docs/x/y"):  # fmt: skip
            r = await site.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert r.json()["error"]["code"] == "not_found"
