"""The public services sector plugin: categories, place types, the dossier API and indicators, IOC panels, demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import (
        BackgroundTaskSpec,
        CategorySpec,
        DashboardPanelSpec,
        IndicatorCalculatorSpec,
        IndicatorSpec,
        PlaceTypeSpec,
    )


@hookimpl
def case_categories() -> list[CategorySpec]:
    from cityops.sectors.public_services.specs import CATEGORIES

    return list(CATEGORIES)


@hookimpl
def place_types() -> list[PlaceTypeSpec]:
    from cityops.sectors.public_services.specs import EVENT_TYPES, PLACE_TYPES

    return [*PLACE_TYPES, *EVENT_TYPES]


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    """The dossier store, the citizen's lookup and the receipt QR code."""
    from cityops.sectors.public_services.api import router

    app.include_router(router)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo places (markets, one-stop shops; approximate positions) and demo dossiers."""
    from cityops.sectors.public_services.demo import load, load_dossiers, load_events

    load(session, console)
    load_events(session, console)
    load_dossiers(session, console, settings.secret_key)


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.sectors.public_services.indicators import calculators

    return calculators()


@hookimpl
def indicators() -> list[IndicatorSpec]:
    from cityops.sectors.public_services.indicators import indicators as declared

    return declared()


@hookimpl
def dashboard_panels() -> list[DashboardPanelSpec]:
    from cityops.sectors.public_services.indicators import panels

    return panels()


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    from cityops.sectors.public_services.indicators import background_tasks as tasks

    return tasks()
