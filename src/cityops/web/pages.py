"""Routes serving the three front ends, the service worker and the web app manifest.

Pages are the built HTML files (hashed asset URLs filled in by the build). Each page is sent with a strict
Content-Security-Policy: scripts and styles only from this origin, no inline script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from cityops.security.headers import PAGE_CSP
from cityops.web.assets import DIST, REVALIDATE

CSP = PAGE_CSP  # the one policy for pages, kept with the other security headers
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": REVALIDATE,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(self)",
}
NOT_BUILT = """<!doctype html><html lang="vi"><meta charset="utf-8"><title>cityops</title>
<h1>Giao diện chưa được xây dựng</h1><p>The web front end is not built: run <code>make frontend</code>.</p></html>"""

router = APIRouter(include_in_schema=False)


def _page(name: str, dist: Path) -> Response:
    path = dist / name
    if not path.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503, headers={"Retry-After": "30"})
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _dist(request: Request) -> Path:
    dist: Path = getattr(request.app.state, "web_dist", DIST)
    return dist


@router.get("/")
def citizen_page(request: Request) -> Response:
    """The citizen PWA (phone first)."""
    return _page("citizen.html", _dist(request))


@router.get("/officer")
def officer_page(request: Request) -> Response:
    """The officer workspace."""
    return _page("officer.html", _dist(request))


@router.get("/ioc")
def ioc_page(request: Request) -> Response:
    """The IOC dashboard (large screen)."""
    return _page("ioc.html", _dist(request))


@router.get("/sw.js")
def service_worker(request: Request) -> Response:
    """The citizen PWA's service worker, served from ``/`` so its scope is the whole site."""
    path = _dist(request) / "sw.js"
    if not path.is_file():
        return Response("// not built\n", status_code=404, media_type="text/javascript")
    return FileResponse(
        path,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": REVALIDATE, "Service-Worker-Allowed": "/"},
    )


def web_manifest(lang: str = "vi") -> dict[str, Any]:
    """The installable PWA's manifest (Vietnamese first)."""
    vi = lang != "en"
    return {
        "name": "Phản ánh hiện trường – Tây Ninh" if vi else "Citizen reports – Tây Ninh",
        "short_name": "Phản ánh" if vi else "Reports",
        "description": "Phản ánh sự cố đô thị kèm ảnh và vị trí, theo dõi xử lý."
        if vi
        else "Report city problems with a photo and location, and follow them.",
        "lang": "vi" if vi else "en",
        "start_url": "/",
        "scope": "/",
        "id": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#b3261e",
        "icons": [
            {"src": "/static/dist/icons/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
            {
                "src": "/static/dist/icons/icon-maskable.svg",
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "maskable",
            },
        ],
    }


@router.get("/manifest.webmanifest")
def manifest_route(lang: str = "vi") -> Response:
    return JSONResponse(
        web_manifest(lang), media_type="application/manifest+json", headers={"Cache-Control": "no-cache"}
    )


@router.get("/favicon.ico")
def favicon(request: Request) -> Response:
    path = _dist(request) / "icons" / "icon.svg"
    if not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
