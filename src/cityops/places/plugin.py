"""Default plugin registration for places: routes, ``cityops places``, type sync, station links, area changes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cityops.plugins import hookimpl
from cityops.specs import IndicatorCalculatorSpec, IndicatorSpec

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings

log = logging.getLogger("cityops.places")


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.places.api import router

    app.include_router(router)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.places.cli import places_cli

    cli.add_typer(places_cli, name="places")


@hookimpl
def sync_declarations(session: Session) -> None:
    """The declared place types into their table (a wrong declaration fails, naming the plugin)."""
    from cityops.places.types import sync_place_types

    sync_place_types(session)


@hookimpl
def startup(app: FastAPI) -> None:
    """Link the station Things that have no place yet (a database loaded before places existed, or Things
    created through STA since); not under tests, which call :func:`~cityops.places.stations.link_things`."""
    from sqlalchemy.exc import SQLAlchemyError

    from cityops.db import session_scope
    from cityops.places.stations import link_things
    from cityops.settings import Environment

    if app.state.settings.env is Environment.TEST:
        return
    try:
        with session_scope(app.state.sessions) as session:
            link_things(session)
    except SQLAlchemyError:
        log.warning("station places not linked (is the database migrated?)", exc_info=True)


@hookimpl
def areas_changed(session: Session) -> None:
    """Boundaries moved: every place's area is resolved again, in the importer's transaction."""
    from cityops.places.service import reresolve_areas

    reresolve_areas(session)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """Sync the place types (the sectors' demos import places after this) and link the station Things."""
    from cityops.places.stations import link_things
    from cityops.places.types import sync_place_types

    types = sync_place_types(session)
    stats = link_things(session)
    console.print(
        f"Places: {types} place types; stations linked: {stats.created} new, {stats.updated} updated, "
        f"{stats.unchanged} unchanged."
    )


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """The number of places of each declared type."""
    from cityops.places.indicators import indicators as declared

    return declared()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.places.indicators import calculators

    return calculators()
