"""The environment sector plugin: observed properties, rule templates, demo stations, ``cityops simulate``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings


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
    from cityops.sectors.environment.demo import load_stations
    from cityops.sectors.environment.stations import STATIONS

    result = load_stations(session, STATIONS)
    console.print(
        f"Environment stations: {result.things} new stations, {result.datastreams} datastreams, "
        f"{result.observed_properties} observed properties."
    )


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.sectors.environment.cli import simulate

    cli.command("simulate")(simulate)
