"""Default plugin registration for NGSI-LD: routes, ProblemDetails handler, the subscriptions' consumer and
delivery task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.ngsild import api, operations, temporal
    from cityops.ngsild.errors import NgsiError, handle

    app.add_exception_handler(NgsiError, handle)
    app.include_router(api.router)
    app.include_router(operations.router)
    app.include_router(temporal.router)
