"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so an operations centre without internet (or
behind a strict proxy) got a blank page. Here their files come from the npm packages ``swagger-ui-dist``
and ``redoc``, which ``frontend/build.mjs`` copies, content-hashed, into the built static folder and names
in ``manifest.json`` (``apidocs``). Without a build the pages say how to make one instead of reaching out.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from cityops.web.assets import DIST, manifest

STATIC = "/static/dist"
NOT_BUILT = (
    "<!doctype html><html lang='en'><meta charset='utf-8'><title>cityops API docs</title>"
    "<p>The API documentation pages need the front-end build (<code>make frontend</code>). The schema "
    "itself is at <a href='{openapi}'>{openapi}</a>.</p></html>"
)


def _assets(request: Request) -> dict[str, str] | None:
    dist: Path = getattr(request.app.state, "web_dist", DIST)
    found = (manifest(dist) or {}).get("apidocs")
    return {k: f"{STATIC}/{v}" for k, v in found.items()} if isinstance(found, dict) else None


def install(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Add the two pages (the app was built with FastAPI's own turned off) and record their paths in
    ``app.docs_url`` / ``app.redoc_url``, where the security headers look for the pages' policy."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    async def swagger_ui(request: Request) -> Response:
        assets = _assets(request)
        if assets is None:
            return HTMLResponse(NOT_BUILT.format(openapi=openapi_url), status_code=503)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=assets["swagger_js"],
            swagger_css_url=assets["swagger_css"],
            swagger_favicon_url=assets["favicon"],
        )

    async def redoc(request: Request) -> Response:
        assets = _assets(request)
        if assets is None:
            return HTMLResponse(NOT_BUILT.format(openapi=openapi_url), status_code=503)
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=assets["redoc_js"],
            redoc_favicon_url=assets["favicon"],
            with_google_fonts=False,
        )

    app.add_api_route(docs_url, swagger_ui, include_in_schema=False)
    app.add_api_route(redoc_url, redoc, include_in_schema=False)
    app.docs_url, app.redoc_url = docs_url, redoc_url
