"""Default plugin registration of the admin API (the officer workspace's admin pages)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.admin.api import router

    app.include_router(router)
