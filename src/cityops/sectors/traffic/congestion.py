"""Congestion per road segment: a level of service (A–F) kept current as the counters' observations arrive.

A road segment (place type ``road_segment``) names its counter (``attributes.counter``, a station code). For
every time step at which a counter reports its mean speed, the level of service is the worse of two readings:

* speed over the segment's free-flow speed (HCM urban-street bands): > 85 % A, > 67 % B, > 50 % C, > 40 % D,
  > 30 % E, else F;
* volume over capacity, the flows converted to passenger-car units (motorbike 0.3, car 1, bus and truck 2.5, the
  equivalents TCVN 13592:2022 uses for urban streets): ≤ 0.35 A, ≤ 0.55 B, ≤ 0.77 C, ≤ 0.93 D, ≤ 1 E, else F.

Each level is stored as an observation of the counter's ``congestion_level`` datastream (1 = A … 6 = F, with the
letter and both ratios in ``parameters``), so alert rules (persistent congestion), the roll-ups and the IOC read it
like any series; the segment's status follows the latest level (one status change, and one history entry, only
when the level changes). Nothing is computed from scratch on a read. :func:`on_observations` is the
``observations.created`` consumer; :func:`backfill` does the same for stored history (the demo's day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import ensure_utc
from cityops.places.models import Place
from cityops.places.service import update_place
from cityops.sectors.traffic.specs import CONGESTION_LEVEL, ROAD_SEGMENT
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Observation, Sensor, Thing
from cityops.sensing.observation_events import read_created
from cityops.sensing.stations import OM_MEASUREMENT, observed_property

LEVELS = "ABCDEF"
#: Passenger-car units per vehicle of each counted class.
PCU: dict[str, float] = {"traffic_motorbike": 0.3, "traffic_car": 1.0, "traffic_heavy": 2.5}
SPEED = "mean_speed"
INPUTS = (*PCU, SPEED)
SPEED_BANDS = ((0.85, "A"), (0.67, "B"), (0.50, "C"), (0.40, "D"), (0.30, "E"))
VC_BANDS = ((0.35, "A"), (0.55, "B"), (0.77, "C"), (0.93, "D"), (1.0, "E"))
#: Levels that count as congested (the indicators' congested hours, the IOC's red).
CONGESTED = ("E", "F")
LABEL = "traffic-congestion"


def speed_level(speed_ratio: float) -> str:
    for bound, level in SPEED_BANDS:
        if speed_ratio > bound:
            return level
    return "F"


def vc_level(vc: float) -> str:
    for bound, level in VC_BANDS:
        if vc <= bound:
            return level
    return "F"


@dataclass(frozen=True, slots=True)
class Reading:
    """One level of service with what it came from."""

    level: str
    speed_ratio: float | None
    vc: float | None
    volume_pcu: float | None

    @property
    def index(self) -> int:
        return LEVELS.index(self.level) + 1


def level_of_service(
    speed: float | None, free_flow: float, flows: Mapping[str, float], capacity: float
) -> Reading | None:
    """The worse of the speed and the volume/capacity levels; None when there is neither reading."""
    ratio = speed / free_flow if speed is not None and free_flow > 0 else None
    volume = sum(PCU[c] * v for c, v in flows.items() if c in PCU) if flows else None
    vc = volume / capacity if volume is not None and capacity > 0 else None
    levels = [
        lvl
        for lvl in (
            speed_level(ratio) if ratio is not None else None,
            vc_level(vc) if vc is not None else None,
        )
        if lvl
    ]
    if not levels:
        return None
    return Reading(max(levels, key=LEVELS.index), ratio, vc, volume)


def level_datastream(session: Session, thing: Thing) -> Datastream:
    """The counter's ``congestion_level`` datastream (created on first use)."""
    for existing in session.scalars(select(Datastream).where(Datastream.thing_id == thing.id)):
        if (existing.properties or {}).get("property_code") == CONGESTION_LEVEL.code:
            return existing
    op, _ = observed_property(session, CONGESTION_LEVEL.code, {})
    sensor = Sensor(
        name="Mức phục vụ (cityops)",
        description="Computed from the counter's speed and flows (cityops.sectors.traffic.congestion)",
        encoding_type="text/html",
        sensor_metadata="",
    )
    session.add(sensor)
    session.flush()
    ds = Datastream(
        name=f"{thing.name} – {CONGESTION_LEVEL.name_vi}",
        description="Level of service of the segment the counter watches (1 = A … 6 = F)",
        unit_of_measurement=CONGESTION_LEVEL.unit_of_measurement,
        observation_type=OM_MEASUREMENT,
        properties={
            "expected_interval_s": int((thing.properties or {}).get("expected_interval_s") or 300),
            "property_code": CONGESTION_LEVEL.code,
            "computed": True,
        },
        thing_id=thing.id,
        sensor_id=sensor.id,
        observed_property_id=op.id,
    )
    session.add(ds)
    session.flush()
    return ds


def _number(attributes: Mapping[str, Any], key: str) -> float:
    value = attributes.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def segments_by_counter(session: Session, codes: Iterable[str]) -> dict[str, list[Place]]:
    """Road segments (current ones) by the station code of their counter."""
    wanted = set(codes)
    out: dict[str, list[Place]] = defaultdict(list)
    for place in session.scalars(
        select(Place).where(Place.type_code == ROAD_SEGMENT.code, Place.valid_to.is_(None)).order_by(Place.id)
    ):
        code = (place.attributes or {}).get("counter")
        if code in wanted:
            out[str(code)].append(place)
    return out


def compute(session: Session, times_by_thing: Mapping[int, Iterable[datetime]]) -> dict[int, str]:
    """Store the level of every (counter, time) given whose segment is known; set the segments' statuses.

    Returns the latest level per segment place id. Idempotent: a time already stored is not stored again.
    """
    things = {t.id: t for t in session.scalars(select(Thing).where(Thing.id.in_(list(times_by_thing))))}
    codes = {tid: str((t.properties or {}).get("station_code")) for tid, t in things.items()}
    segments = segments_by_counter(session, codes.values())
    out: dict[int, str] = {}
    for thing_id, raw_times in times_by_thing.items():
        places = segments.get(codes.get(thing_id, ""), [])
        times = sorted({ensure_utc(t) for t in raw_times})
        if not places or not times:
            continue
        segment = places[0]  # a counter watches one segment; the first one declared gives the capacity
        level_ds = level_datastream(session, things[thing_id])
        inputs = {
            str((ds.properties or {}).get("property_code")): ds.id
            for ds in session.scalars(select(Datastream).where(Datastream.thing_id == thing_id))
            if (ds.properties or {}).get("property_code") in INPUTS
        }
        by_id = {v: k for k, v in inputs.items()}
        values: dict[datetime, dict[str, float]] = defaultdict(dict)
        for ds_id, at, number in session.execute(
            select(Observation.datastream_id, Observation.phenomenon_time, Observation.result_number).where(
                Observation.datastream_id.in_(list(by_id)),
                Observation.phenomenon_time >= times[0],
                Observation.phenomenon_time <= times[-1],
            )
        ):
            if number is not None and ds_id is not None:
                values[ensure_utc(at)][by_id[ds_id]] = float(number)
        stored = {
            ensure_utc(t)
            for t in session.scalars(
                select(Observation.phenomenon_time).where(
                    Observation.datastream_id == level_ds.id,
                    Observation.phenomenon_time >= times[0],
                    Observation.phenomenon_time <= times[-1],
                )
            )
        }
        attrs = segment.attributes or {}
        rows: list[ObservationIn] = []
        latest: Reading | None = None
        for at in times:
            found = values.get(at, {})
            if SPEED not in found:  # a level needs the speed of its time step (flows alone are partial)
                continue
            flows = {c: v for c, v in found.items() if c in PCU}
            reading = level_of_service(
                found[SPEED], _number(attrs, "free_flow_kmh"), flows, _number(attrs, "capacity_pcu_h")
            )
            if reading is None:
                continue
            latest = reading
            if at not in stored:
                rows.append(
                    ObservationIn(
                        level_ds.id,
                        at,
                        float(reading.index),
                        parameters={
                            "los": reading.level,
                            "speed_ratio": None
                            if reading.speed_ratio is None
                            else round(reading.speed_ratio, 3),
                            "volume_capacity": None if reading.vc is None else round(reading.vc, 3),
                            "segment_place_id": segment.id,
                        },
                    )
                )
        if rows:
            ingest_observations(session, rows)
        if latest is not None and (
            level_ds.last_phenomenon_time is None or times[-1] >= ensure_utc(level_ds.last_phenomenon_time)
        ):
            for place in places:
                if place.status != latest.level:
                    update_place(session, place, {"status": latest.level}, actor=None, label=LABEL)
                out[place.id] = latest.level
    return out


def on_observations(session: Session, payload: Mapping[str, Any]) -> dict[int, str]:
    """The consumer's work for one ``observations.created`` payload: levels for the counters it touches."""
    obs = read_created(payload)
    if not len(obs):
        return {}
    rows = session.execute(
        select(Datastream.id, Datastream.thing_id, Datastream.properties).where(
            Datastream.id.in_(sorted(set(obs.datastreams)))
        )
    ).all()
    thing_of = {
        ds_id: thing_id for ds_id, thing_id, props in rows if (props or {}).get("property_code") in INPUTS
    }
    times: dict[int, set[datetime]] = defaultdict(set)
    for ds_id, text in zip(obs.datastreams, obs.phenomenon_times, strict=True):
        if ds_id in thing_of and text:
            times[thing_of[ds_id]].add(datetime.fromisoformat(text.replace("Z", "+00:00")))
    return compute(session, times) if times else {}


def backfill(session: Session, start: datetime, end: datetime) -> int:
    """Levels for every counter time step stored in ``[start, end]`` (the demo's history); returns the segments."""
    speed_streams = [
        (ds.thing_id, ds.id)
        for ds in session.scalars(select(Datastream))
        if (ds.properties or {}).get("property_code") == SPEED
    ]
    times: dict[int, list[datetime]] = {}
    for thing_id, ds_id in speed_streams:
        times[thing_id] = list(
            session.scalars(
                select(Observation.phenomenon_time).where(
                    Observation.datastream_id == ds_id,
                    Observation.phenomenon_time >= start,
                    Observation.phenomenon_time <= end,
                )
            )
        )
    return len(compute(session, times))
