"""Default plugin registration for areas: routes, the ``cityops areas`` commands and the demo units."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.areas.api import router

    app.include_router(router)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.areas.cli import areas_cli

    cli.add_typer(areas_cli, name="areas")


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    from cityops.areas.service import load_areas

    stats = load_areas(session, console=console)
    console.print(
        f"Areas: {stats.created} created, {stats.updated} updated, {stats.unchanged} unchanged "
        "(Tây Ninh 2025 + legacy Long An / Tây Ninh, approximate cells)."
    )
