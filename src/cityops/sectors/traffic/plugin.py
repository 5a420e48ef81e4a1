"""The traffic sector plugin: its case categories, the counters' observed properties, the demo counters and
their simulation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import CategorySpec, PropertySpec, StationSpec


@hookimpl
def case_categories() -> list[CategorySpec]:
    from cityops.sectors.traffic.specs import CATEGORIES

    return list(CATEGORIES)


@hookimpl
def observed_properties() -> list[PropertySpec]:
    from cityops.sectors.traffic.specs import PROPERTIES

    return list(PROPERTIES)


@hookimpl
def demo_stations() -> list[StationSpec]:
    from cityops.sectors.traffic.stations import STATIONS

    return list(STATIONS)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The demo counters on QL1 and QL62, with the last 24 hours of simulated counts."""
    from cityops.sectors.traffic.demo import load_demo as load_counters

    load_counters(session, console)
