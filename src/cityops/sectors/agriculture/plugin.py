"""The agriculture sector plugin: place types, demo places, the salinity API (crops, intrusion, gates) and
its IOC map layers (hook implementations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import DashboardPanelSpec, PlaceTypeSpec


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    """Crop tolerances, intrusion distances, sluice gates with recommendations."""
    from cityops.sectors.agriculture.api import router

    app.include_router(router)


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
    from cityops.sectors.agriculture.demo import load

    load(session, console)
