"""`/docs`: the API reference for people, Swagger UI rendering `/openapi.json`, served by this
process alone: no CDN, so it works offline.

Contract:
- `/docs` is the page (gateway/docs_page/index.html); `/docs/{asset}` serves only the files
  named in ASSETS: Swagger UI's script, stylesheet and icon from the `swagger-ui-bundle-v2`
  wheel (the swagger-ui-dist release, unchanged), and this page's own initializer and styles.
  Any other name is 404.
- Every answer carries the web client's headers (gateway/web.py): the same strict
  Content-Security-Policy (scripts and styles from this origin only, nothing inline, which is
  why the initializer is a file), a strong ETag with `Cache-Control: no-cache` (304 on a match),
  `nosniff` and `Referrer-Policy`.
- Swagger UI's validator badge (a call to a public service) is off; "Try it out" calls this
  gateway's `/api/v1` (same origin, allowed by `connect-src 'self'`).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from swagger_ui_bundle import swagger_ui_path

from gateway.asgi import Route
from gateway.errors import not_found
from gateway.web import serve

OWN_ROOT = Path(__file__).resolve().with_name("docs_page")
SWAGGER_ROOT = Path(swagger_ui_path)
ASSETS: dict[str, Path] = {
    "swagger-ui-bundle.js": SWAGGER_ROOT,
    "swagger-ui.css": SWAGGER_ROOT,
    "favicon-32x32.png": SWAGGER_ROOT,
    "init.js": OWN_ROOT,
    "docs.css": OWN_ROOT,
}


async def docs_page(request: Request) -> Response:
    """The page."""
    return serve(request, ["index.html"], OWN_ROOT)


async def docs_asset(request: Request) -> Response:
    """One of ASSETS."""
    name = request.path_params["asset"]
    root = ASSETS.get(name)
    if root is None:
        raise not_found(f"the file {request.url.path}")
    return serve(request, [name], root)


ROUTES: list[Route] = [Route("GET", "/docs", docs_page), Route("GET", "/docs/{asset}", docs_asset)]
