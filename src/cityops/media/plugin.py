"""Default plugin registration for the media store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.media.api import public_only, router

    if not hasattr(app.state, "media_access"):
        app.state.media_access = public_only
    app.include_router(router)
