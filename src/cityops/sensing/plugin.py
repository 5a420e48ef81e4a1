"""Default plugin registration for sensing: the SensorThings API, native sensing routes, the STA error shape,
and the MQTT bridge when a broker is configured."""

from __future__ import annotations

import typer
from fastapi import FastAPI
from sqlalchemy.orm import Session

from cityops import errors
from cityops.plugins import hookimpl
from cityops.settings import Settings
from cityops.specs import BackgroundTaskSpec, IndicatorCalculatorSpec, IndicatorSpec


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.sensing import api, sta_api

    errors.register_formatter("/sta", sta_api.sta_error_response)
    app.include_router(api.router)
    app.include_router(sta_api.router)
    if settings.mqtt_url:
        from cityops.sensing.mqtt import bridge as mqtt

        mqtt.install(app, settings)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.sensing.cli import sensing_cli
    from cityops.sensing.simulate import simulate

    cli.add_typer(sensing_cli, name="sensing")
    cli.command("simulate")(simulate)


@hookimpl
def startup(app: FastAPI) -> None:
    """Keep monthly observation partitions created ahead of time (PostgreSQL only; no-op elsewhere)."""
    from cityops.sensing.partitioning import ensure_partitions

    with app.state.engine.begin() as conn:
        ensure_partitions(conn)


@hookimpl
def sync_declarations(session: Session) -> None:
    """One STA ObservedProperty per declared observed property (``observed_properties`` hook)."""
    from cityops.sensing.observed_property_sync import sync_observed_properties

    sync_observed_properties(session)


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """Generic observation indicators: station availability and data freshness."""
    from cityops.sensing.indicators import indicators as declared

    return declared()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.sensing.indicators import calculators

    return calculators()


STATION_HEALTH_SECONDS = 60.0


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    """Station health carried into the places registry (each Thing-linked place online/offline)."""
    from cityops.sensing.health import run_station_health

    return [
        BackgroundTaskSpec(
            "sensing-station-health",
            STATION_HEALTH_SECONDS,
            run_station_health,
            initial_delay_seconds=5.0,
            description="set each station place's status from its datastreams' freshness",
        )
    ]
