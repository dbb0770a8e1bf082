"""The web client as files over HTTP: content types, caching, the security headers, path
traversal refused, the page-weight budget, and S3's CORS answer to the client's origin."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.web import WEB_ROOT, content_security_policy, etag_matches, load_asset
from infra.objectstore import cors_configuration
from infra.settings import Settings
from tests.fixtures import register

pytestmark = [pytest.mark.browser, pytest.mark.stack]
PAGE_WEIGHT_BUDGET = 100_000  # bytes of HTML + CSS + JS on a first load, uncompressed
DIRECTIVES = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
              "base-uri 'none'", "frame-ancestors 'none'")  # fmt: skip


def first_load_files() -> list[Path]:
    """The page, its stylesheet and every module it loads (app.js imports all views)."""
    return [WEB_ROOT / "index.html", WEB_ROOT / "app.css", *sorted(WEB_ROOT.glob("js/**/*.js"))]


def test_page_weight_is_within_budget() -> None:
    total = sum(p.stat().st_size for p in first_load_files())
    assert total <= PAGE_WEIGHT_BUDGET, total


def test_no_inline_script_style_or_handler_anywhere() -> None:
    """The CSP forbids them; they would be refused (and logged) in the browser."""
    html = (WEB_ROOT / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html)
    for module in WEB_ROOT.glob("js/**/*.js"):
        source = module.read_text()
        assert "innerHTML" not in source, module
        assert "setAttribute('style'" not in source, module
        assert "eval(" not in source, module
        assert "new Function" not in source, module


def test_assets_refuse_traversal_hidden_files_and_unknown_types(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "ok.js").write_text("export {};")
    (tmp_path / "web" / ".secret.js").write_text("no")
    (tmp_path / "web" / "notes.txt").write_text("no")
    (tmp_path / "outside.js").write_text("no")
    (tmp_path / "web" / "link.js").symlink_to(tmp_path / "outside.js")
    root = tmp_path / "web"
    ok = load_asset(["ok.js"], root)
    assert ok is not None
    assert ok.content_type.startswith("text/javascript")
    for segments in (["..", "outside.js"], [".secret.js"], ["notes.txt"], ["link.js"], [],
                     ["a/../ok.js"], ["missing.js"], ["ok.js", ""]):  # fmt: skip
        assert load_asset(segments, root) is None, segments


def test_etag_matching() -> None:
    assert etag_matches('"a", W/"b"', '"b"')
    assert etag_matches("*", '"x"')
    assert not etag_matches('"a"', '"b"')
    assert not etag_matches(None, '"b"')


def test_cors_configuration_lists_every_origin_escaped() -> None:
    xml = cors_configuration(["http://a.test:8000", "https://b.test&x"])
    assert "<AllowedOrigin>http://a.test:8000</AllowedOrigin>" in xml
    assert "<AllowedOrigin>https://b.test&amp;x</AllowedOrigin>" in xml
    assert "<AllowedMethod>PUT</AllowedMethod>" in xml
    assert "<ExposeHeader>ETag</ExposeHeader>" in xml


def test_web_origins_default_to_the_gateway() -> None:
    settings = Settings(gateway_port=8123)
    assert settings.web_origin_list == ["http://127.0.0.1:8123"]
    listed = settings.with_(web_origins=" https://photos.example/ , http://localhost:8123")
    assert listed.web_origin_list == ["https://photos.example", "http://localhost:8123"]


async def test_pages_and_assets_carry_types_caching_and_security_headers(
    site: str, settings: Settings
) -> None:
    s3 = f"http://{settings.s3}"
    async with httpx.AsyncClient(base_url=site) as web:
        for path, ctype in [("/", "text/html"), ("/index.html", "text/html"),
                            ("/web/app.css", "text/css"), ("/web/js/app.js", "text/javascript"),
                            ("/web/js/views/feed.js", "text/javascript"),
                            ("/web/icon.svg", "image/svg+xml")]:  # fmt: skip
            r = await web.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith(ctype), path
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["cache-control"] == "no-cache"
            csp = r.headers["content-security-policy"]
            assert csp == content_security_policy(settings)
            s3_directives = (f"connect-src 'self' {s3}", f"img-src 'self' {s3} data: blob:")
            for directive in (*DIRECTIVES, *s3_directives):
                assert directive in csp, (directive, csp)
            again = await web.get(path, headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304
            assert again.content == b""
        for path in ("/web/../gateway/web.py", "/web/%2e%2e/web.py", "/web/js/..%2f..%2fweb.py",
                     "/web/.hidden", "/web/js/nope.js", "/web/js", "/web/index.py",
                     "/web/js/views/../../../app.py"):  # fmt: skip
            r = await web.get(path)
            assert r.status_code in {404, 405}, (path, r.status_code)
            assert "text/javascript" not in r.headers.get("content-type", "")
        assert (await web.get("/api/v1/nope")).status_code == 404  # the API stays JSON


async def test_s3_answers_the_clients_preflight_and_refuses_other_origins(
    site: str, settings: Settings, api: httpx.AsyncClient
) -> None:
    """A real presigned URL, preflighted as Chromium does before the upload's PUT."""
    _, token = await register(api)
    ticket = (await api.post("/photos", headers={"Authorization": f"Bearer {token}"}, json={
        "filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 10, "caption": "",
    })).json()  # fmt: skip
    url = ticket["upload_url"]
    origin = f"{urlsplit(site).scheme}://{urlsplit(site).netloc}"
    preflight = {"Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    async with httpx.AsyncClient() as s3:
        ok = await s3.options(url, headers={"Origin": origin, **preflight})
        assert ok.status_code == 200, ok.text
        assert ok.headers["access-control-allow-origin"] == origin
        assert "PUT" in ok.headers["access-control-allow-methods"]
        assert "content-type" in ok.headers["access-control-allow-headers"].lower()
        assert "etag" in ok.headers["access-control-expose-headers"].lower()
        evil = await s3.options(url, headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in evil.headers
