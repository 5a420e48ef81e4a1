"""``GET /api/v1/environment/stations``: the monitoring stations with their latest values and health;
``GET /api/v1/environment/water-quality``: each water station's VN_WQI; ``/water-levels`` (and its IOC layer
``/water-levels.geojson``): levels against the alarm levels I/II/III and today's tide peaks.

Public (station data is open): each Thing that carries a ``station_code``, its location, areas, and per
datastream the latest value and a health status, by the one rule of :mod:`cityops.sensing.health` — the rule
that also sets each station place's online/offline status in the places registry. This listing is the
environment's view of its stations (latest values per datastream, health as of this request); the registry's
answer is ``GET /api/v1/places?type=station`` (where, what, status kept by the health task), and each station
here names its place (``place_id``, ``place_status``) so the two are read together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import to_local, utcnow
from cityops.deps import SessionDep
from cityops.places.models import Place
from cityops.sensing.health import thing_health
from cityops.sensing.models import Datastream, Location, ObservedProperty, Thing, thing_locations
from cityops.sensing.quality import StationHealth

router = APIRouter(prefix="/api/v1/environment", tags=["environment"])


class DatastreamStatus(BaseModel):
    id: int
    property: str | None
    unit: str | None
    last_value: float | None
    last_time: datetime | None
    health: StationHealth


class StationStatus(BaseModel):
    id: int
    code: str
    name: str
    kind: str | None
    lat: float | None
    lon: float | None
    area_ids: list[int]
    health: StationHealth
    last_time: datetime | None
    datastreams: list[DatastreamStatus]
    place_id: int | None = None  # its station place in the registry (None until linked)
    place_status: str | None = None  # the registry's status: online/offline by the same rule, or maintenance


def station_statuses(session: Session, now: datetime, kind: str | None = None) -> list[StationStatus]:
    """Every station Thing with its datastreams' latest values and its place; health by sensing's one rule."""
    linked = select(Place.id).where(Place.thing_id == Thing.id).order_by(Place.id).limit(1)
    status = select(Place.status).where(Place.thing_id == Thing.id).order_by(Place.id).limit(1)
    places: dict[int, tuple[int | None, str | None]] = {}
    things = []
    for thing, place_id, place_status in session.execute(
        select(Thing, linked.scalar_subquery(), status.scalar_subquery()).order_by(Thing.id)
    ):
        if (thing.properties or {}).get("station_code"):
            things.append(thing)
            places[thing.id] = (place_id, place_status)
    if kind:
        things = [t for t in things if (t.properties or {}).get("kind") == kind]
    if not things:
        return []
    ids = [t.id for t in things]
    codes = {
        op.id: (op.properties or {}).get("code") for op in session.scalars(select(ObservedProperty)).all()
    }
    streams: dict[int, list[Datastream]] = {}
    for ds in session.scalars(select(Datastream).where(Datastream.thing_id.in_(ids)).order_by(Datastream.id)):
        streams.setdefault(ds.thing_id, []).append(ds)
    where: dict[int, tuple[float | None, float | None]] = {}
    rows = session.execute(
        select(thing_locations.c.thing_id, Location.lat, Location.lon)
        .join(Location, Location.id == thing_locations.c.location_id)
        .where(thing_locations.c.thing_id.in_(ids))
    ).all()
    for thing_id, lat, lon in rows:
        where.setdefault(thing_id, (lat, lon))
    health = thing_health(session, things, now, streams)
    out = []
    for thing in things:
        props: dict[str, Any] = thing.properties or {}
        known = health[thing.id]
        items = [
            DatastreamStatus(
                id=ds.id,
                property=codes.get(ds.observed_property_id),
                unit=(ds.unit_of_measurement or {}).get("symbol"),
                last_value=ds.last_value,
                last_time=ds.last_phenomenon_time,
                health=known.datastreams[ds.id],
            )
            for ds in streams.get(thing.id, [])
        ]
        lat, lon = where.get(thing.id, (None, None))
        out.append(
            StationStatus(
                id=thing.id,
                code=str(props["station_code"]),
                name=thing.name,
                kind=props.get("kind"),
                lat=lat,
                lon=lon,
                area_ids=[int(a) for a in props.get("area_ids") or []],
                health=known.health,
                last_time=known.last_time,
                datastreams=items,
                place_id=places[thing.id][0],
                place_status=places[thing.id][1],
            )
        )
    return out


@router.get("/stations", response_model=list[StationStatus])
def list_stations(
    session: SessionDep,
    kind: Annotated[str | None, Query(pattern="^(water|air|traffic)$")] = None,
) -> list[StationStatus]:
    return station_statuses(session, utcnow(), kind)


class StationWaterQuality(BaseModel):
    """A water station's VN_WQI (Decision 1460/QĐ-TCMT) from its latest laboratory sample and probes."""

    id: int
    code: str
    name: str
    wqi: int | None
    class_vi: str | None
    class_en: str | None
    use_vi: str | None
    use_en: str | None
    colour: str | None
    sample_time: datetime | None
    values: dict[str, float]
    sub_indices: dict[str, float]
    reason: str | None


@router.get("/water-quality", response_model=list[StationWaterQuality])
def list_water_quality(session: SessionDep) -> list[StationWaterQuality]:
    """VN_WQI of every water station (null with a reason when its sample is missing or incomplete)."""
    from cityops.sectors.environment.water_quality import stations_wqi

    things = [
        t
        for t in session.scalars(select(Thing).order_by(Thing.id)).all()
        if (t.properties or {}).get("station_code") and (t.properties or {}).get("kind") == "water"
    ]
    results = stations_wqi(session, [t.id for t in things], utcnow())
    out = []
    for thing in things:
        item = results[thing.id]
        cls = item.result.wqi_class
        out.append(
            StationWaterQuality(
                id=thing.id,
                code=str((thing.properties or {})["station_code"]),
                name=thing.name,
                wqi=item.result.wqi,
                class_vi=cls.label_vi if cls else None,
                class_en=cls.label_en if cls else None,
                use_vi=cls.use_vi if cls else None,
                use_en=cls.use_en if cls else None,
                colour=cls.hex if cls else None,
                sample_time=item.sample_time,
                values={k: round(v, 3) for k, v in item.values.items()},
                sub_indices=item.result.sub_indices,
                reason=item.result.reason,
            )
        )
    return out


class TidePeak(BaseModel):
    time: datetime
    level_m: float


class StationWaterLevel(BaseModel):
    """A water station's level against its alarm levels I/II/III, and today's high and low waters."""

    id: int
    code: str
    name: str
    level_m: float | None
    time: datetime | None
    alarm_levels: dict[str, float]
    alarm: str | None
    high_waters: list[TidePeak]
    low_waters: list[TidePeak]


def _levels(session: Session) -> list[StationWaterLevel]:
    from cityops.sectors.environment.water_levels import station_levels

    return [
        StationWaterLevel(
            id=s.thing_id,
            code=s.code,
            name=s.name,
            level_m=s.level,
            time=s.time,
            alarm_levels=s.alarm_levels,
            alarm=s.alarm,
            high_waters=[TidePeak(time=t, level_m=v) for t, v in s.highs],
            low_waters=[TidePeak(time=t, level_m=v) for t, v in s.lows],
        )
        for s in station_levels(session, utcnow())
    ]


@router.get("/water-levels", response_model=list[StationWaterLevel])
def list_water_levels(session: SessionDep) -> list[StationWaterLevel]:
    """Water levels with the alarm level reached (I, II, III or none) and today's tide peaks."""
    return _levels(session)


@router.get("/water-levels.geojson", responses={404: {"description": "No such area"}})
def water_levels_layer(
    session: SessionDep, area_id: Annotated[int | None, Query(description="The IOC's area scope")] = None
) -> dict[str, Any]:
    """The IOC layer: each station coloured by the alarm level its water level reached."""
    from cityops.areas.models import Area
    from cityops.errors import NotFound
    from cityops.sectors.environment.water_levels import station_levels

    if area_id is not None and session.get(Area, area_id) is None:
        raise NotFound("No such area", code="unknown_area", details={"area_id": area_id})
    features = []
    for s in station_levels(session, utcnow()):
        if s.lat is None or s.lon is None:
            continue
        level = "–" if s.level is None else f"{s.level:.2f}".replace(".", ",")
        highs = ", ".join(f"{to_local(t):%H:%M} ({v:.2f} m)".replace(".", ",") for t, v in s.highs)
        alarm_vi = f"báo động {s.alarm}" if s.alarm else "dưới báo động I"
        alarm_en = f"alarm level {s.alarm}" if s.alarm else "below alarm level I"
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {
                    "name_vi": f"{s.name}: {level} m, {alarm_vi}"
                    + (f"; đỉnh triều hôm nay {highs}" if highs else ""),
                    "name_en": f"{s.name}: {level} m, {alarm_en}"
                    + (f"; high waters today {highs}" if highs else ""),
                    "alarm": s.alarm or "none",
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
