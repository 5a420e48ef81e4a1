"""The route prefilter changes no routing decision: every included router answers each path as before."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from starlette.routing import Match

from cityops.ops.route_prefilter import prefilter_routes


def _sample_paths(app: FastAPI) -> list[str]:
    """Each route's template with its parameters filled in, with and without a trailing slash, plus
    paths no route has and near misses of real ones."""
    paths = {"/", "/nothing", "/api/v1/nothing-here", "/api", "/sta/v1.1/Things(1)", "/open311/v2/x"}
    for route in app.router.routes:
        if not isinstance(route, _IncludedRouter):
            continue
        for candidate in route.effective_candidates():
            path = getattr(candidate, "path", None)
            if not isinstance(path, str):
                continue
            filled = re.sub(r"\{[^}]*\}", "1", path)
            paths |= {filled, filled.rstrip("/") or "/", filled + "/", filled + "x", filled[:-1] or "/"}
    return sorted(paths)


def test_guarded_routers_match_exactly_as_unguarded(app: FastAPI) -> None:
    routers = [r for r in app.router.routes if isinstance(r, _IncludedRouter)]
    guarded = [r for r in routers if "matches" in vars(r)]
    assert guarded, "create_app installs the prefilter"
    checked = 0
    for path in _sample_paths(app):
        for method in ("GET", "POST", "DELETE"):
            scope: dict[str, Any] = {
                "type": "http",
                "method": method,
                "path": path,
                "root_path": "",
                "headers": [],
            }
            for router in guarded:
                before, _ = _IncludedRouter.matches(router, dict(scope))
                after, _ = router.matches(dict(scope))
                assert after == before, (method, path, router.include_context.prefix)
                checked += before != Match.NONE
    assert checked > 100  # the samples do reach real routes, not only misses


def test_real_requests_still_route(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/reports/categories").status_code == 200
    assert client.delete("/healthz").status_code == 405
    assert client.get("/api/v1/nothing-here").status_code == 404


def test_routes_and_routers_added_after_the_prefilter_are_still_found() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/first")
    router.add_api_route("/a", lambda: {"a": 1}, methods=["GET"])
    app.include_router(router)
    assert prefilter_routes(app) == 1
    router.add_api_route("/late", lambda: {"late": 1}, methods=["GET"])
    nested = APIRouter(prefix="/nested")
    nested.add_api_route("/b", lambda: {"b": 1}, methods=["GET"])
    router.include_router(nested)
    with TestClient(app) as client:
        assert client.get("/first/a").json() == {"a": 1}
        assert client.get("/nowhere").status_code == 404
        assert client.get("/first/late").json() == {"late": 1}
        assert client.get("/first/nested/b").json() == {"b": 1}
