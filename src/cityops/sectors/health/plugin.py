"""The health sector plugin: case categories, place types, demo places (hook implementations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import CategorySpec, IndicatorSpec, PlaceTypeSpec


@hookimpl
def case_categories() -> list[CategorySpec]:
    from cityops.sectors.health.specs import CATEGORIES

    return list(CATEGORIES)


@hookimpl
def place_types() -> list[PlaceTypeSpec]:
    from cityops.sectors.health.specs import PLACE_TYPES

    return list(PLACE_TYPES)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo places: the provincial general hospital, clinics and ward health stations of Tân An (approximate positions)."""
    from cityops.sectors.health.demo import load

    load(session, console)


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """Indicators computed from the sector's place attributes (``places.attribute_sum``)."""
    from cityops.sectors.health.specs import INDICATORS

    return list(INDICATORS)
