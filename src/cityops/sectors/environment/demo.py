"""The environment's demo data: its monitoring stations, a year of hourly readings and the last day in full.

The stations (``data/stations.json``) become SensorThings entities through sensing's loader
(:func:`cityops.sensing.stations.load_stations`), then get 24 hours of history with their hourly VN_AQI and
the alert rules run over it (:mod:`cityops.sectors.environment.backfill`). Idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.clock import utcnow
from cityops.places.stations import link_things
from cityops.sectors.environment.backfill import DEFAULT_HOURS, YEAR_DAYS, backfill, backfill_year
from cityops.sectors.environment.stations import STATIONS
from cityops.sensing.stations import load_stations

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session


def load_demo(session: Session, console: Console, *, history_days: int = YEAR_DAYS) -> None:
    """Load the stations and backfill their history up to now (the alert rules are loaded before)."""
    result = load_stations(session, STATIONS)
    link_things(session)  # each station is a place of type "station", linked to its Thing
    console.print(
        f"Environment stations: {result.things} new stations, {result.datastreams} datastreams, "
        f"{result.observed_properties} observed properties."
    )
    now = utcnow()
    year = backfill_year(session, STATIONS, end=now, days=history_days)
    console.print(
        f"Station history: {year.inserted} hourly simulated observations over the {history_days} days before the last day "
        f"({year.duplicates} already stored), for the monthly indicators."
    )
    history = backfill(session, STATIONS, end=now, hours=DEFAULT_HOURS)
    console.print(
        f"Station history: {history.inserted} simulated observations over the last {DEFAULT_HOURS:g} hours "
        f"({history.duplicates} already stored), {history.aqi_hours} hourly VN_AQI, "
        f"{history.alert_changes} alert changes."
    )
