"""The agriculture sector plugin: place types, demo places, the salinity API (crops, intrusion, gates) and
its IOC map layers (hook implementations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.settings import Settings
    from cityops.specs import (
        BackgroundTaskSpec,
        DashboardPanelSpec,
        IndicatorCalculatorSpec,
        IndicatorSpec,
        PlaceTypeSpec,
    )


def publish_bulletins(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Publish the salinity bulletins that are new for the day or changed (see bulletins.publish) and push the
    changes worth it to the communes' subscribers (see push)."""
    from cityops.clock import utcnow
    from cityops.db import session_scope
    from cityops.sectors.agriculture.bulletins import area_names, publish_changes
    from cityops.sectors.agriculture.push import push_changes

    with session_scope(sessions) as session:
        changes = publish_changes(session, utcnow())
        push_changes(session, settings, changes, area_names(session, [b.area_id for b, _ in changes]))
        return len(changes)


@hookimpl
def background_tasks(settings: Settings) -> list[BackgroundTaskSpec]:
    """The salinity bulletins: the day's issue and re-issues on change, every 15 minutes."""
    from cityops.sectors.agriculture.bulletins import PUBLISH_EVERY_S
    from cityops.specs import BackgroundTaskSpec

    return [
        BackgroundTaskSpec(
            "agriculture-bulletins", PUBLISH_EVERY_S, publish_bulletins, initial_delay_seconds=5.0,
            description="publishes the salinity bulletins per commune and crop (daily and on change)",
        )
    ]  # fmt: skip


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    """Crop tolerances, intrusion distances, sluice gates with recommendations."""
    from cityops.sectors.agriculture.api import router

    app.include_router(router)


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """Sluice gate operations per month and quarter."""
    from cityops.sectors.agriculture.indicators import indicators as declared

    return declared()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.sectors.agriculture.indicators import calculators

    return calculators()


@hookimpl
def dashboard_panels() -> list[DashboardPanelSpec]:
    from cityops.sectors.agriculture.panels import panels

    return panels()


@hookimpl
def place_types() -> list[PlaceTypeSpec]:
    from cityops.sectors.agriculture.specs import PLACE_TYPES

    return list(PLACE_TYPES)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo places: sluice gates on the Vàm Cỏ Tây and the Bảo Định canal near Tân An (approximate positions)."""
    from cityops.clock import utcnow
    from cityops.sectors.agriculture.bulletins import publish
    from cityops.sectors.agriculture.demo import load

    load(session, console)
    stored = publish(
        session, utcnow()
    )  # empty when the stations load after this plugin: the task will publish
    console.print(f"Salinity bulletins: {len(stored)} published for the pilot communes and crops.")
