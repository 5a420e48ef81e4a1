"""Default plugin registration for identity: API routes, CLI commands, demo agencies and users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import PersonalDataSpec


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.identity.api import router

    app.include_router(router)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.identity.cli import keys_cli, users_cli

    cli.add_typer(users_cli, name="users")
    cli.add_typer(keys_cli, name="keys")


@hookimpl
def personal_data() -> list[PersonalDataSpec]:
    from cityops.identity.personal_data import SPEC

    return [SPEC]


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    from cityops.identity.demo import load

    load(session, settings, console)
