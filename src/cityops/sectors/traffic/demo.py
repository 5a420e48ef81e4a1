"""The traffic sector's demo data: its counters with the last day of simulated counts, the road segments they
watch (with the levels of service of that day), a closure and cameras.

The counters (``data/stations.json``) become SensorThings entities through sensing's loader, then get 24 hours
of history up to now, so the IOC shows today's flows at once. The segments, closures and cameras come from
``data/demo_<type>.geojson`` (approximate geometry, marked demo); the day's levels of service are then computed
from the stored history (:func:`cityops.sectors.traffic.congestion.backfill`), as the consumer does for live
readings. Idempotent: loaded stations, places and stored points are kept.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from cityops.clock import utcnow
from cityops.identity.models import Role
from cityops.identity.policy import Principal, PrincipalKind
from cityops.places.stations import link_things
from cityops.reports.access import Actor
from cityops.reports.categories import sync_categories
from cityops.reports.intake import Submission, submit
from cityops.reports.models import Case
from cityops.sectors.demo_places import load_demo_places
from cityops.sectors.traffic.congestion import backfill
from cityops.sectors.traffic.specs import PLACE_TYPES
from cityops.sectors.traffic.stations import STATIONS
from cityops.sensing.stations import load_stations, store_history

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings

HISTORY_HOURS = 24.0
DATA = Path(__file__).parent / "data"
INCIDENT_SOURCE = "demo-traffic"


def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """Load the counters, their counts of the last day, the network's places and the day's levels."""
    result = load_stations(session, STATIONS)
    link_things(session)  # each station is a place of type "station", linked to its Thing
    end = utcnow()
    start = end - timedelta(hours=HISTORY_HOURS)
    history = store_history(session, STATIONS, start=start, end=end)
    console.print(
        f"Traffic counters: {result.things} new counters, {result.datastreams} datastreams; "
        f"{history.inserted} simulated counts over the last {HISTORY_HOURS:g} hours "
        f"({history.duplicates} already stored)."
    )
    load_demo_places(session, DATA, [spec.code for spec in PLACE_TYPES], console)
    segments = backfill(session, start, end)
    console.print(f"Traffic: levels of service computed for {segments} demo segments.")
    if load_incident(session, settings):
        console.print("Traffic: a demo incident on QL1 at Bến Lức.")


def load_incident(session: Session, settings: Settings) -> bool:
    """A crash on QL1 at Bến Lức entered by the IOC operator, as a case with its questions (once)."""
    sync_categories(session)
    if session.scalar(select(Case.id).where(Case.source == INCIDENT_SOURCE).limit(1)) is not None:
        return False
    operator = Actor(Principal(kind=PrincipalKind.USER, role=Role.OPERATOR, label="demo"))
    sub = Submission(
        category_code="traffic_incident",
        description="Va chạm giữa xe tải và xe máy trên QL1 gần cầu Bến Lức, chắn một làn xe",
        lat=10.6425,
        lon=106.4772,
        answers={"vehicles": 2, "injuries": "minor", "lanes_blocked": 1},
        source=INCIDENT_SOURCE,
    )
    submit(session, settings, operator, sub, now=utcnow() - timedelta(minutes=40))
    return True
