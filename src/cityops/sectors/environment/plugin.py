"""The environment sector plugin: observed properties, rule templates, demo stations, ``cityops simulate``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event
    from cityops.settings import Settings

AQI_DURABLE = "environment-aqi"


def handle_observations(sessions: sessionmaker[Session], payload: dict[str, Any]) -> int:
    """Publish the hourly VN_AQI of the hours an ``observations.created`` batch completes."""
    from cityops.db import session_scope
    from cityops.sectors.environment.air_quality import on_observations

    with session_scope(sessions) as session:
        return len(on_observations(session, payload))


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    """The stations API and a bus consumer computing hourly VN_AQI for air-quality stations."""
    import asyncio
    import contextlib

    from cityops.sectors.environment.api import router

    app.include_router(router)
    state: dict[str, Any] = {}

    async def start(app: FastAPI) -> None:
        bus = getattr(app.state, "bus", None)
        if bus is None:
            return
        sessions = app.state.sessions

        async def on_event(event: Event) -> None:
            await asyncio.to_thread(handle_observations, sessions, event.payload)

        from cityops.sensing.observation_events import SUBJECT

        state["sub"] = await bus.subscribe(SUBJECT, AQI_DURABLE, on_event)

    async def stop(app: FastAPI) -> None:
        sub = state.pop("sub", None)
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.stop()

    app.state.async_startup.append(start)
    app.state.async_shutdown.append(stop)


@hookimpl
def observed_properties() -> list[Any]:
    from cityops.sensing.properties import PROPERTIES

    return list(PROPERTIES)


@hookimpl
def rule_templates() -> list[Any]:
    from cityops.sectors.environment.templates import TEMPLATES

    return list(TEMPLATES)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo stations, with the last 24 hours of simulated readings (after the alerts plugin's rules)."""
    from cityops.clock import utcnow
    from cityops.sectors.environment.backfill import DEFAULT_HOURS, backfill
    from cityops.sectors.environment.demo import load_stations
    from cityops.sectors.environment.stations import STATIONS

    result = load_stations(session, STATIONS)
    console.print(
        f"Environment stations: {result.things} new stations, {result.datastreams} datastreams, "
        f"{result.observed_properties} observed properties."
    )
    history = backfill(session, STATIONS, end=utcnow(), hours=DEFAULT_HOURS)
    console.print(
        f"Station history: {history.inserted} simulated observations over the last {DEFAULT_HOURS:g} hours "
        f"({history.duplicates} already stored), {history.aqi_hours} hourly VN_AQI, "
        f"{history.alert_changes} alert changes."
    )


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.sectors.environment.cli import simulate

    cli.command("simulate")(simulate)
