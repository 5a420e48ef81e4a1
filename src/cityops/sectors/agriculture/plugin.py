"""The agriculture sector plugin: place types, demo places (hook implementations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import PlaceTypeSpec


@hookimpl
def place_types() -> list[PlaceTypeSpec]:
    from cityops.sectors.agriculture.specs import PLACE_TYPES

    return list(PLACE_TYPES)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo places: sluice gates on the Vàm Cỏ Tây and the Bảo Định canal near Tân An (approximate positions)."""
    from cityops.sectors.agriculture.demo import load

    load(session, console)
