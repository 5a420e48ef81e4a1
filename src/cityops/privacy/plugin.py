"""Default plugin registration for privacy: routes, ``cityops privacy`` and the daily retention sweep.

What each capability holds, and how to export, erase and purge it, comes from the ``personal_data`` hook
(:mod:`cityops.privacy.service`); the sweep is a background task the events capability runs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cityops.plugins import hookimpl
from cityops.specs import BackgroundTaskSpec

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

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


def retention_pass(sessions: sessionmaker[Session], settings: Settings) -> None:
    """One retention sweep, logged when it cleared anything."""
    from cityops.db import session_scope
    from cityops.privacy.service import retention_sweep

    with session_scope(sessions) as session:
        stats = retention_sweep(session, settings)
    if any(stats.counts.values()):
        log.info("retention sweep cleared personal data", extra={"cleared": dict(stats.counts)})


@hookimpl
def background_tasks(settings: Settings) -> list[BackgroundTaskSpec]:
    """The retention sweep, at start and every ``privacy_sweep_hours`` (tests call it directly)."""
    return [
        BackgroundTaskSpec(
            "privacy-retention",
            settings.privacy_sweep_hours * 3600,
            retention_pass,
            description="removes personal data past privacy_retention_days",
        )
    ]
