"""The traffic sector plugin: case categories, the road network's place types, the counters' observed
properties and simulation, the congestion consumer, the persistent-congestion rule, the cameras' staleness
task, the IOC panels and the routes (hook implementations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event
    from cityops.settings import Settings
    from cityops.specs import (
        BackgroundTaskSpec,
        CategorySpec,
        DashboardPanelSpec,
        EventConsumerSpec,
        IndicatorCalculatorSpec,
        IndicatorSpec,
        PlaceTypeSpec,
        PropertySpec,
        RuleTemplate,
        StationSpec,
    )

CONGESTION_DURABLE = "traffic-congestion"


def update_congestion(sessions: sessionmaker[Session], event: Event) -> int:
    """The levels of service of the segments whose counters reported (idempotent)."""
    from cityops.db import session_scope
    from cityops.sectors.traffic.congestion import on_observations

    with session_scope(sessions) as session:
        return len(on_observations(session, event.payload))


def flag_stale_cameras(sessions: sessionmaker[Session], settings: Settings) -> int:
    from cityops.db import session_scope
    from cityops.sectors.traffic.cameras import mark_stale

    with session_scope(sessions) as session:
        return len(mark_stale(session))


@hookimpl
def case_categories() -> list[CategorySpec]:
    from cityops.sectors.traffic.specs import ALL_CATEGORIES

    return list(ALL_CATEGORIES)


@hookimpl
def observed_properties() -> list[PropertySpec]:
    from cityops.sectors.traffic.specs import CONGESTION_LEVEL, PROPERTIES

    return [*PROPERTIES, CONGESTION_LEVEL]


@hookimpl
def place_types() -> list[PlaceTypeSpec]:
    from cityops.sectors.traffic.specs import PLACE_TYPES

    return list(PLACE_TYPES)


@hookimpl
def rule_templates() -> list[RuleTemplate]:
    from cityops.sectors.traffic.templates import TEMPLATES

    return list(TEMPLATES)


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """Congested segment-hours and the peak-hour volume per commune and day."""
    from cityops.sectors.traffic.indicators import indicators as declared

    return declared()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.sectors.traffic.indicators import calculators

    return calculators()


@hookimpl
def dashboard_panels() -> list[DashboardPanelSpec]:
    from cityops.sectors.traffic.panels import panels

    return panels()


@hookimpl
def demo_stations() -> list[StationSpec]:
    from cityops.sectors.traffic.stations import STATIONS

    return list(STATIONS)


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.sectors.traffic.api import router

    app.include_router(router)


@hookimpl
def event_consumers() -> list[EventConsumerSpec]:
    """Congestion per segment, kept current as the counters' observations arrive."""
    from cityops.sensing.observation_events import SUBJECT
    from cityops.specs import EventConsumerSpec

    return [
        EventConsumerSpec(
            CONGESTION_DURABLE, SUBJECT, update_congestion, "levels of service of the road segments"
        )
    ]


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    from cityops.specs import BackgroundTaskSpec

    return [
        BackgroundTaskSpec(
            "traffic.cameras_stale",
            60.0,
            flag_stale_cameras,
            30.0,
            "flags cameras without a heartbeat as stale",
        )
    ]


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo counters with the last 24 hours, the road segments, a closure and cameras."""
    from cityops.sectors.traffic.demo import load_demo as load_traffic

    load_traffic(session, settings, console)
