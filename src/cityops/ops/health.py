"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from cityops import __version__

router = APIRouter(tags=["operations"])
log = logging.getLogger("cityops.ops")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive. Async: it does no I/O, so it needs no trip through the thread pool."""
    return {"status": "ok", "version": __version__}


def check_database(request: Request) -> None:
    with request.app.state.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get("/readyz")
def readyz(request: Request) -> Response:
    """Ready to serve: the database answers and every plugin's readiness check passes."""
    checks: list[tuple[str, Any]] = [("database", check_database)]
    for found in request.app.state.plugins.hook.readiness_checks(app=request.app):
        checks.extend(found)
    results: dict[str, str] = {}
    ok = True
    for name, check in checks:
        try:
            check(request)
            results[name] = "ok"
        except Exception as exc:  # a failing dependency must make the probe fail, whatever it raised
            results[name] = f"fail: {type(exc).__name__}: {exc}"
            ok = False
    return JSONResponse({"status": "ok" if ok else "fail", "checks": results}, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics
    relay = getattr(request.app.state, "outbox_relay", None)
    if relay is not None:
        try:
            registry.outbox_pending.set(relay.pending_count())
        except Exception:  # the database is down: /readyz says so; keep serving the other metrics
            log.warning("cannot count pending outbox events", exc_info=True)
    rendered: Response = registry.render()
    return rendered
