"""Sensor stations are places: one place of type ``station`` per SensorThings Thing that is a station.

A Thing is a station when its properties carry a station ``kind`` (water, air, traffic), as the environment
demo and the STA clients write them. :func:`link_things` creates the missing station places and refreshes
the ones the Things describe (name, point, and the attributes the Thing's properties give; attributes set by
hand and the status are kept). The ``station`` type itself is declared by a sector; without it nothing is
linked. Tables are read by name: places import no capability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, func, select, table
from sqlalchemy.orm import Session

from cityops.db import JSONType
from cityops.errors import ApiError
from cityops.places import service
from cityops.places.attributes import check_value
from cityops.places.geometry import point
from cityops.places.models import Place, PlaceType
from cityops.places.types import attribute_specs, declared_types, sync_place_types

STATION_TYPE = "station"
STATION_KINDS = ("water", "air", "traffic")
SOURCE = "sta"
# Thing property → station attribute, where the names differ.
RENAMED = {"distance_to_sea_km": "river_km"}

_things = table("sta_things", column("id"), column("name"), column("properties", JSONType))
_links = table("sta_thing_locations", column("thing_id"), column("location_id"))
_locations = table("sta_locations", column("id"), column("lat"), column("lon"))


@dataclass
class LinkStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # station Things without a position, or whose properties do not fit the type


def station_type(session: Session) -> PlaceType | None:
    row = session.get(PlaceType, STATION_TYPE)
    if row is None and any(spec.code == STATION_TYPE for _, spec in declared_types()):
        sync_place_types(session)
        row = session.get(PlaceType, STATION_TYPE)
    return row


def _station_things(session: Session) -> list[tuple[int, str, dict[str, Any], float | None, float | None]]:
    first = (
        select(_links.c.thing_id, func.min(_links.c.location_id).label("location_id"))
        .group_by(_links.c.thing_id)
        .subquery()
    )
    stmt = (
        select(_things.c.id, _things.c.name, _things.c.properties, _locations.c.lat, _locations.c.lon)
        .outerjoin(first, first.c.thing_id == _things.c.id)
        .outerjoin(_locations, _locations.c.id == first.c.location_id)
        .order_by(_things.c.id)
    )
    out = []
    for thing_id, name, props, lat, lon in session.execute(stmt):
        props = props or {}
        if props.get("kind") in STATION_KINDS:
            out.append((thing_id, name, props, lat, lon))
    return out


def _attributes(ptype: PlaceType, props: dict[str, Any]) -> dict[str, Any]:
    """The Thing properties that are valid station attributes (others are left out, not refused)."""
    given = {RENAMED.get(k, k): v for k, v in props.items()}
    out: dict[str, Any] = {}
    for spec in attribute_specs(ptype):
        if given.get(spec.code) is None:
            continue
        try:
            out[spec.code] = check_value(spec, given[spec.code])
        except ValueError:
            continue
    return out


def link_things(session: Session) -> LinkStats:
    """Create or refresh a station place for every station Thing (idempotent; flushes, does not commit)."""
    stats = LinkStats()
    ptype = station_type(session)
    if ptype is None:
        return stats
    things = _station_things(session)
    linked = {
        p.thing_id: p
        for p in session.scalars(select(Place).where(Place.thing_id.in_([t[0] for t in things])))
    }
    for thing_id, name, props, lat, lon in things:
        if lat is None or lon is None:
            stats.skipped += 1
            continue
        place = linked.get(thing_id)
        fields: dict[str, Any] = {
            "name": name,
            "geometry": point(lon, lat),
            "attributes": _attributes(ptype, props),
        }
        if place is None:
            fields.update(source=SOURCE, external_id=str(props.get("station_code") or f"thing-{thing_id}"))
            fields["thing_id"] = thing_id
        try:
            values = service.prepare(session, ptype, fields, place=place)
        except ApiError:
            stats.skipped += 1
            continue
        if place is None:
            service.create_place(session, ptype, values, actor=None, label="sta-sync")
            stats.created += 1
        elif service.update_place(session, place, values, actor=None, label="sta-sync"):
            stats.updated += 1
        else:
            stats.unchanged += 1
    return stats
