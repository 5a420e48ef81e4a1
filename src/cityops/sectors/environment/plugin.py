"""The environment sector plugin: observed properties, rule templates, demo stations and their simulation, the
hourly VN_AQI consumer, the stations API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cityops.plugins import hookimpl
from cityops.specs import DashboardPanelSpec, IndicatorCalculatorSpec, IndicatorSpec

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event
    from cityops.settings import Settings
    from cityops.specs import (
        CategorySpec,
        EventConsumerSpec,
        ForecastTargetSpec,
        PlaceTypeSpec,
        PropertySpec,
        StationSpec,
    )

AQI_DURABLE = "environment-aqi"


def publish_aqi(sessions: sessionmaker[Session], event: Event) -> int:
    """Publish the hourly VN_AQI of the hours an ``observations.created`` batch completes (idempotent: an
    hour already stored is not stored again, so a redelivered event changes nothing)."""
    from cityops.db import session_scope
    from cityops.sectors.environment.air_quality import on_observations

    with session_scope(sessions) as session:
        return len(on_observations(session, event.payload))


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    """The stations API."""
    from cityops.sectors.environment.api import router

    app.include_router(router)


@hookimpl
def event_consumers() -> list[EventConsumerSpec]:
    """The hourly VN_AQI of the air-quality stations, computed as their observations arrive."""
    from cityops.sensing.observation_events import SUBJECT
    from cityops.specs import EventConsumerSpec

    return [
        EventConsumerSpec(
            AQI_DURABLE, SUBJECT, publish_aqi, "publishes the hourly VN_AQI of air-quality stations"
        )
    ]


@hookimpl
def observed_properties() -> list[PropertySpec]:
    from cityops.sectors.environment.properties import PROPERTIES

    return list(PROPERTIES)


@hookimpl
def demo_stations() -> list[StationSpec]:
    from cityops.sectors.environment.stations import STATIONS

    return list(STATIONS)


@hookimpl
def case_categories() -> list[CategorySpec]:
    from cityops.sectors.environment.specs import CATEGORIES

    return list(CATEGORIES)


@hookimpl
def place_types() -> list[PlaceTypeSpec]:
    from cityops.sectors.environment.specs import PLACE_TYPES

    return list(PLACE_TYPES)


@hookimpl
def rule_templates() -> list[Any]:
    from cityops.sectors.environment.templates import TEMPLATES

    return list(TEMPLATES)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo stations, with the last 24 hours of simulated readings (after the alerts plugin's rules)."""
    from cityops.sectors.environment.demo import load_demo as load_stations_demo

    load_stations_demo(session, console, history_days=settings.demo_history_days)


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """Days with good air (VN_AQI) and salinity exceedance days."""
    from cityops.sectors.environment.indicators import indicators as declared

    return declared()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.sectors.environment.indicators import calculators

    return calculators()


@hookimpl
def dashboard_panels() -> list[DashboardPanelSpec]:
    from cityops.sectors.environment.panels import panels

    return panels()


@hookimpl
def forecast_targets() -> list[ForecastTargetSpec]:
    """Water level and salinity at the river stations, PM2.5 and VN_AQI at the air stations (#16)."""
    from cityops.sectors.environment.forecasts import targets

    return targets()
