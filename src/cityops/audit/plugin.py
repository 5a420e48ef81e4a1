"""Default plugin registration for audit: the read-only audit API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

    from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.audit.api import router

    app.include_router(router)


def check_append_only(request: Request) -> None:
    """Readiness: the database refuses UPDATE/DELETE on the audit log (its triggers are installed)."""
    from cityops.audit.models import missing_triggers

    with request.app.state.engine.connect() as conn:
        missing = missing_triggers(conn)
    if missing:
        raise RuntimeError(f"audit_log append-only triggers missing: {', '.join(sorted(missing))}")


@hookimpl
def readiness_checks(app: FastAPI) -> list[tuple[str, Any]]:
    return [("audit_append_only", check_append_only)]
