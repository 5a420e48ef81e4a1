"""Operations: probes, metrics, logging."""

from __future__ import annotations

from fastapi import FastAPI

from cityops.ops import health, metrics
from cityops.ops.requests import RequestIdMiddleware
from cityops.plugins import hookimpl
from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    metrics.install(app)
    app.add_middleware(RequestIdMiddleware)  # added last, so outermost: metrics and handlers see the id
    app.include_router(health.router)
