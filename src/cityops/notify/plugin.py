"""Default plugin registration for notifications: built-in channels, retry loop and CLI."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from cityops.background import run_in_background
from cityops.plugins import hookimpl
from cityops.settings import Environment

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI

    from cityops.settings import Settings

log = logging.getLogger("cityops.notify")


@hookimpl
def alert_channels(settings: Settings) -> list[Any]:
    from cityops.notify.channels import builtin_channels

    return list(builtin_channels(settings))


async def _retry_loop(app: FastAPI) -> None:
    from cityops.notify.notifier import deliver_due

    settings = app.state.settings
    while True:
        await asyncio.sleep(settings.notify_retry_seconds)
        try:
            with app.state.sessions() as session:
                await asyncio.to_thread(deliver_due, session, settings)
        except Exception:
            log.exception("notification retry pass failed")


@hookimpl
def startup(app: FastAPI) -> None:
    """Retry failed deliveries in the background (not under tests: they call ``deliver_due`` themselves)."""
    if app.state.settings.env is Environment.TEST:
        return

    run_in_background(app, _retry_loop)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    import typer as typer_

    notify_cli = typer_.Typer(help="Notifications.", no_args_is_help=True)

    @notify_cli.command("retry")
    def retry() -> None:
        """Send pending notifications and retry failed ones that are due."""
        from cityops.cli import console, settings_from_cli
        from cityops.db import make_engine, make_sessionmaker
        from cityops.notify.notifier import deliver_due

        settings = settings_from_cli()
        engine = make_engine(settings.effective_database_url)
        with make_sessionmaker(engine)() as session:
            count = deliver_due(session, settings)
        engine.dispose()
        console.print(f"{count} delivery attempt(s) made.")

    cli.add_typer(notify_cli, name="notify")
