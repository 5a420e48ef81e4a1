"""The traffic sector's demo data: its counters, with the last day of simulated counts.

The counters (``data/stations.json``) become SensorThings entities through sensing's loader, then get 24 hours
of history up to now, so the IOC shows today's flows at once. No rule runs on them (the sector ships no rule
template), so the history is stored as it is. Idempotent: loaded stations and stored points are kept.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from cityops.clock import utcnow
from cityops.places.stations import link_things
from cityops.sectors.traffic.stations import STATIONS
from cityops.sensing.stations import load_stations, store_history

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

HISTORY_HOURS = 24.0


def load_demo(session: Session, console: Console) -> None:
    """Load the counters and store their counts of the last day."""
    result = load_stations(session, STATIONS)
    link_things(session)  # each station is a place of type "station", linked to its Thing
    end = utcnow()
    history = store_history(session, STATIONS, start=end - timedelta(hours=HISTORY_HOURS), end=end)
    console.print(
        f"Traffic counters: {result.things} new counters, {result.datastreams} datastreams; "
        f"{history.inserted} simulated counts over the last {HISTORY_HOURS:g} hours "
        f"({history.duplicates} already stored)."
    )
