"""/docs and /redoc load Swagger UI and ReDoc from the front-end build, never from a CDN
(cityops.web.apidocs, frontend/build.mjs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.web.assets import DIST, manifest

BUILT = (manifest() or {}).get("apidocs")


def _sources(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: *['\"]([^'\"]+)", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_load_nothing_from_elsewhere(app: FastAPI, tmp_path: Path, page: str) -> None:
    names = {
        "swagger_js": "apidocs/swagger-ui-bundle-AAAA1111.js",
        "swagger_css": "apidocs/swagger-ui-BBBB2222.css",
        "favicon": "apidocs/favicon-32x32-CCCC3333.png",
        "redoc_js": "apidocs/redoc.standalone-DDDD4444.js",
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"apidocs": names}), encoding="utf-8")
    app.state.web_dist = tmp_path
    with TestClient(app) as client:
        r = client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    sources = _sources(r.text)
    assert sources, r.text
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "cdn." not in r.text
    assert "fonts.googleapis" not in r.text
    wanted = names["swagger_js"] if page == "/docs" else names["redoc_js"]
    assert f"/static/dist/{wanted}" in sources
    assert "/openapi.json" in r.text


def test_without_a_build_the_pages_say_how_to_make_one(app: FastAPI, tmp_path: Path) -> None:
    app.state.web_dist = tmp_path  # an empty build folder
    with TestClient(app) as client:
        for page in ("/docs", "/redoc"):
            r = client.get(page)
            assert r.status_code == 503
            assert "make frontend" in r.text
            assert "http" not in r.text


@pytest.mark.skipif(not BUILT, reason="the front end is not built (make frontend)")
def test_the_built_assets_are_served(client: TestClient) -> None:
    assert isinstance(BUILT, dict)
    for key, rel in BUILT.items():
        assert (DIST / rel).is_file(), key
        r = client.get(f"/static/dist/{rel}")
        assert r.status_code == 200, rel
        assert r.headers["cache-control"].endswith("immutable")
    page = client.get("/docs").text
    assert f"/static/dist/{BUILT['swagger_js']}" in page
    assert "SwaggerUIBundle(" in page
