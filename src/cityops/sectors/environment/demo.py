"""The environment's demo data: its monitoring stations, a year of hourly readings and the last day in full.

The stations (``data/stations.json``) become SensorThings entities through sensing's loader
(:func:`cityops.sensing.stations.load_stations`), then get 24 hours of history with their hourly VN_AQI and
the alert rules run over it (:mod:`cityops.sectors.environment.backfill`). Idempotent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cityops.clock import utcnow
from cityops.places.stations import link_things
from cityops.sectors.environment.backfill import DEFAULT_HOURS, YEAR_DAYS, backfill, backfill_year
from cityops.sectors.environment.stations import STATIONS
from cityops.sensing.stations import datastream_index, load_stations

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
    samples = load_lab_samples(session, now)
    console.print(f"Water samples: {samples} laboratory results for VN_WQI.")
    console.print(
        f"Station history: {history.inserted} simulated observations over the last {DEFAULT_HOURS:g} hours "
        f"({history.duplicates} already stored), {history.aqi_hours} hourly VN_AQI, "
        f"{history.alert_changes} alert changes."
    )


#: Demo laboratory results (mg/L; Coliform and E. coli MPN/100 mL) of the two probe stations' samples.
LAB_SAMPLES: dict[str, dict[str, float]] = {
    "VCT-TANAN": {"bod5": 8, "cod": 20, "n_nh4": 0.5, "n_no3": 1.2, "n_no2": 0.03, "p_po4": 0.25,
                  "coliform": 4600, "e_coli": 30},
    "VCD-BENLUC": {"bod5": 5, "cod": 12, "n_nh4": 0.2, "n_no3": 0.8, "n_no2": 0.02, "p_po4": 0.12,
                   "coliform": 2100, "e_coli": 15},
}  # fmt: skip


def load_lab_samples(session: Session, now: datetime) -> int:
    """One water sample per probe station, taken at 10:00 local time two days ago (idempotent)."""
    from cityops.sectors.environment.water_quality import record_sample

    day = (now + timedelta(hours=7)).date() - timedelta(days=2)
    when = datetime(day.year, day.month, day.day, 3, tzinfo=UTC)  # 10:00 in Asia/Ho_Chi_Minh
    things = {code: ds.thing_id for (code, _prop), ds in datastream_index(session).items()}
    stored = 0
    for code, values in LAB_SAMPLES.items():
        if code in things:
            stored += record_sample(session, things[code], when, values)
    return stored
