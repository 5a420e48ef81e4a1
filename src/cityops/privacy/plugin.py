"""Default plugin registration for privacy: routes, ``cityops privacy`` and the daily retention sweep."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from cityops.background import run_in_background
from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI

    from cityops.settings import Settings

log = logging.getLogger(__name__)


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.privacy.api import router

    app.include_router(router)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.privacy.cli import privacy_cli

    cli.add_typer(privacy_cli, name="privacy")


async def _retention_loop(app: FastAPI) -> None:
    from cityops.db import session_scope
    from cityops.privacy.service import retention_sweep

    settings = app.state.settings

    def run() -> None:
        with session_scope(app.state.sessions) as session:
            stats = retention_sweep(session, settings)
        if stats.reporters or stats.addresses:
            log.info("retention sweep cleared %s reporters, %s addresses", stats.reporters, stats.addresses)

    while True:
        try:
            await asyncio.to_thread(run)
        except Exception:
            log.exception("retention sweep failed")
        await asyncio.sleep(settings.privacy_sweep_hours * 3600)


@hookimpl
def startup(app: FastAPI) -> None:
    """Run the retention sweep in the background (not under tests, which call it directly)."""
    from cityops.settings import Environment

    if app.state.settings.env is Environment.TEST:
        return

    run_in_background(app, _retention_loop)
