"""Entities over the store: places and stations as Smart Data Models (read here, written through
/api/v1/places), and generic entities (``ngsild_entities``) for everything else, created and changed here."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import shape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.ngsild import alerts_map, model_map
from cityops.ngsild.errors import AlreadyExists, BadRequestData, OperationNotSupported, ResourceNotFound
from cityops.ngsild.models import NgsiEntity
from cityops.places.models import Place, PlaceType

ATTR_TYPES = {
    "Property",
    "Relationship",
    "GeoProperty",
    "LanguageProperty",
    "JsonProperty",
    "VocabProperty",
    "ListProperty",
}
RESERVED = {"id", "type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt"}
_NAME = re.compile(r"^[A-Za-z_@][\w.:@/#-]*$")


@dataclass
class Found:
    entities: list[dict[str, Any]]
    total: int


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- validation of incoming fragments -------------------------------------------------------------------


def check_id(eid: Any) -> str:
    if not isinstance(eid, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", eid) or len(eid) > 512:
        raise BadRequestData(f"entity id must be a URI, not {eid!r}")
    return eid


def normalize_attr(name: str, raw: Any) -> Any:
    """An attribute in the normalized form; concise input (no ``type``) is accepted and completed."""
    if name in RESERVED or not _NAME.match(name):
        raise BadRequestData(f"{name!r} is not a valid attribute name")
    if isinstance(raw, list) and raw and all(isinstance(r, dict) for r in raw):
        return [normalize_attr(name, r) for r in raw]
    if not isinstance(raw, dict):
        raw = {"type": "Property", "value": raw}
    attr = dict(raw)
    if "type" not in attr:
        if "object" in attr:
            attr["type"] = "Relationship"
        elif "languageMap" in attr:
            attr["type"] = "LanguageProperty"
        elif "value" in attr:
            v = attr["value"]
            is_geo = isinstance(v, dict) and "coordinates" in v and isinstance(v.get("type"), str)
            attr["type"] = "GeoProperty" if is_geo else "Property"
        elif isinstance(attr.get("type"), str) is False and "coordinates" in raw:
            attr = {"type": "GeoProperty", "value": raw}
        else:
            raise BadRequestData(f"attribute {name!r} has neither a type nor a value")
    if (
        attr["type"] in ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon")
        and "coordinates" in attr
    ):
        attr = {"type": "GeoProperty", "value": raw}
    kind = attr["type"]
    if kind not in ATTR_TYPES:
        raise BadRequestData(f"attribute {name!r}: type {kind!r} is not an NGSI-LD attribute type")
    if kind == "Relationship":
        if not isinstance(attr.get("object"), str | list):
            raise BadRequestData(f"relationship {name!r} needs an object (a URI)")
    elif kind == "LanguageProperty":
        if not isinstance(attr.get("languageMap"), dict):
            raise BadRequestData(f"language property {name!r} needs a languageMap")
    elif "value" not in attr and kind in ("Property", "GeoProperty"):
        raise BadRequestData(f"attribute {name!r} needs a value")
    if kind == "GeoProperty":
        try:
            if not shape(attr["value"]).is_valid:
                raise BadRequestData(f"geo-property {name!r} is not a valid geometry")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BadRequestData(f"geo-property {name!r} is not GeoJSON: {exc}") from exc
    for k, v in list(attr.items()):
        if k not in (
            "type",
            "value",
            "object",
            "languageMap",
            "observedAt",
            "unitCode",
            "datasetId",
            "json",
            "vocab",
            "valueList",
        ) and isinstance(v, dict | list):
            attr[k] = normalize_attr(k, v) if k not in RESERVED else v
    attr.pop("createdAt", None)
    attr.pop("modifiedAt", None)
    return attr


def normalize_fragment(body: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of a payload (id, type, @context left out), each normalized."""
    return {k: normalize_attr(k, v) for k, v in body.items() if k not in ("id", "type", "@context")}


def entity_type(body: Mapping[str, Any]) -> str:
    t = body.get("type")
    if isinstance(t, list) and len(t) == 1:
        t = t[0]
    if not isinstance(t, str) or not _NAME.match(t):
        raise BadRequestData("entity type is required (one name)")
    return t


# --- reading ----------------------------------------------------------------------------------------


def _generic(row: NgsiEntity) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        **row.attrs,
        "createdAt": _iso(row.created_at),
        "modifiedAt": _iso(row.modified_at),
    }


def _visible_types(session: Session, staff: bool) -> dict[str, PlaceType]:
    rows = session.scalars(select(PlaceType)).all()
    return {t.code: t for t in rows if staff or t.visibility == "public"}


def _place_entities(
    session: Session, places: Sequence[Place], types: Mapping[str, PlaceType], staff: bool
) -> list[dict[str, Any]]:
    found = model_map.readings(session, [p.thing_id for p in places if p.thing_id is not None])
    return [
        model_map.to_entity(
            p, types[p.type_code], found.get(p.thing_id, []) if p.thing_id else [], staff=staff
        )
        for p in places
    ]


def _current(q: Any) -> Any:
    today = utcnow().date()
    return q.where(or_(Place.valid_to.is_(None), Place.valid_to > today))


def get(session: Session, eid: str, *, staff: bool) -> dict[str, Any]:
    """One entity by id (a mapped place or a generic entity); 404 ResourceNotFound otherwise."""
    pid = model_map.place_id_of(eid)
    if pid is not None:
        types = _visible_types(session, staff)
        place = session.scalar(
            _current(select(Place).where(Place.id == pid, Place.type_code.in_(list(types))))
        )
        if place is not None:
            (entity,) = _place_entities(session, [place], types, staff)
            if entity["id"] == eid:
                return entity
        raise ResourceNotFound(f"no entity {eid}", resource=eid)
    if alerts_map.alert_id_of(eid) is not None:
        alert = alerts_map.get(session, eid)
        if alert is None:
            raise ResourceNotFound(f"no entity {eid}", resource=eid)
        return alert
    row = session.get(NgsiEntity, eid)
    if row is None:
        raise ResourceNotFound(f"no entity {eid}", resource=eid)
    return _generic(row)


@dataclass
class Filter:
    types: list[str] | None = None
    ids: list[str] | None = None
    id_pattern: re.Pattern[str] | None = None
    q: Callable[[dict[str, Any]], bool] | None = None
    geo: Callable[[dict[str, Any] | None], bool] | None = None
    geoproperty: str = "location"
    attrs: list[str] | None = None


def _matches(e: dict[str, Any], f: Filter) -> bool:
    if f.types is not None and e["type"] not in f.types:
        return False
    if f.ids is not None and e["id"] not in f.ids:
        return False
    if f.id_pattern is not None and not f.id_pattern.search(e["id"]):
        return False
    if f.attrs is not None and not any(a in e for a in f.attrs):
        return False
    if f.q is not None and not f.q(e):
        return False
    if f.geo is not None:
        loc = e.get(f.geoproperty)
        value = loc.get("value") if isinstance(loc, dict) else None
        if not f.geo(value):
            return False
    return True


def query(session: Session, f: Filter, *, staff: bool, limit: int, offset: int) -> Found:
    """Every entity matching ``f``, ordered by id; types, ids and the place type are filtered in SQL,
    ``q``/geo/idPattern on the mapped entity (the province's places number in the thousands)."""
    out: list[dict[str, Any]] = []
    types = _visible_types(session, staff)
    codes = model_map.place_codes_for(f.types) if f.types is not None else None
    place_ids = None
    if f.ids is not None:
        place_ids = [pid for pid in (model_map.place_id_of(i) for i in f.ids) if pid is not None]
    wanted_codes = [c for c in types if codes is None or c in codes]
    if wanted_codes and (place_ids is None or place_ids):
        stmt = _current(select(Place).where(Place.type_code.in_(wanted_codes)))
        if place_ids is not None:
            stmt = stmt.where(Place.id.in_(place_ids))
        places = session.scalars(stmt.order_by(Place.id)).all()
        out.extend(e for e in _place_entities(session, places, types, staff) if _matches(e, f))
    if f.types is None or alerts_map.TYPE in f.types:
        out.extend(e for e in alerts_map.current(session, f.ids) if _matches(e, f))
    gstmt = select(NgsiEntity)
    if f.types is not None:
        gstmt = gstmt.where(NgsiEntity.type.in_(f.types))
    if f.ids is not None:
        gstmt = gstmt.where(NgsiEntity.id.in_(f.ids))
    out.extend(e for e in (_generic(r) for r in session.scalars(gstmt).all()) if _matches(e, f))
    out.sort(key=lambda e: e["id"])
    return Found(out[offset : offset + limit], len(out))


# --- writing generic entities ---------------------------------------------------------------------------


def _writable(session: Session, eid: str) -> NgsiEntity:
    if model_map.place_id_of(eid) is not None:
        raise OperationNotSupported(f"{eid} is a place of the registry: change it through /api/v1/places")
    if alerts_map.alert_id_of(eid) is not None:
        raise OperationNotSupported(f"{eid} is an alert: acknowledge or close it through /api/v1/alerts")
    row = session.get(NgsiEntity, eid)
    if row is None:
        raise ResourceNotFound(f"no entity {eid}", resource=eid)
    return row


def create(session: Session, body: Mapping[str, Any], context: Any) -> NgsiEntity:
    eid = check_id(body.get("id"))
    etype = entity_type(body)
    attrs = normalize_fragment(body)
    if model_map.place_id_of(eid) is not None:
        raise OperationNotSupported(
            f"{eid} names a place of the registry: create places through /api/v1/places"
        )
    if session.get(NgsiEntity, eid) is not None:
        raise AlreadyExists(f"entity {eid} already exists", instance=eid)
    now = utcnow()
    row = NgsiEntity(id=eid, type=etype, attrs=attrs, context=context, created_at=now, modified_at=now)
    session.add(row)
    session.flush()
    return row


def replace(session: Session, eid: str, body: Mapping[str, Any]) -> NgsiEntity:
    row = _writable(session, eid)
    if "id" in body and body["id"] != eid:
        raise BadRequestData("the body's id differs from the URL's")
    if "type" in body:
        row.type = entity_type(body)
    row.attrs = normalize_fragment(body)
    row.modified_at = _later(row.modified_at)
    return row


def merge(session: Session, eid: str, body: Mapping[str, Any]) -> NgsiEntity:
    """Merge-patch: given attributes replace theirs, ``"urn:ngsi-ld:null"`` values delete them."""
    row = _writable(session, eid)
    attrs = dict(row.attrs)
    for name, raw in body.items():
        if name in ("id", "type", "@context"):
            continue
        if raw == "urn:ngsi-ld:null" or (isinstance(raw, dict) and raw.get("value") == "urn:ngsi-ld:null"):
            attrs.pop(name, None)
        else:
            attrs[name] = normalize_attr(name, raw)
    row.attrs = attrs
    row.modified_at = _later(row.modified_at)
    return row


def append(
    session: Session, eid: str, body: Mapping[str, Any], *, overwrite: bool
) -> tuple[NgsiEntity, list[str], list[str]]:
    """Append attributes (``noOverwrite`` keeps existing ones); returns (row, updated, not updated)."""
    row = _writable(session, eid)
    attrs = dict(row.attrs)
    done, skipped = [], []
    for name, value in normalize_fragment(body).items():
        if name in attrs and not overwrite:
            skipped.append(name)
            continue
        attrs[name] = value
        done.append(name)
    row.attrs = attrs
    row.modified_at = _later(row.modified_at)
    return row, done, skipped


def update(session: Session, eid: str, body: Mapping[str, Any]) -> tuple[NgsiEntity, list[str], list[str]]:
    """Update existing attributes only; the others are reported as not updated."""
    row = _writable(session, eid)
    attrs = dict(row.attrs)
    done, skipped = [], []
    for name, value in normalize_fragment(body).items():
        if name in attrs:
            attrs[name] = value
            done.append(name)
        else:
            skipped.append(name)
    row.attrs = attrs
    row.modified_at = _later(row.modified_at)
    return row, done, skipped


def delete_attr(session: Session, eid: str, name: str) -> NgsiEntity:
    row = _writable(session, eid)
    if name not in row.attrs:
        raise ResourceNotFound(f"entity {eid} has no attribute {name}", resource=name)
    row.attrs = {k: v for k, v in row.attrs.items() if k != name}
    row.modified_at = _later(row.modified_at)
    return row


def delete(session: Session, eid: str) -> NgsiEntity:
    row = _writable(session, eid)
    session.delete(row)
    return row


def _later(previous: datetime) -> datetime:
    """Now, or a microsecond after ``previous`` (modifiedAt always moves)."""
    now = utcnow()
    return now if now > previous else previous + timedelta(microseconds=1)
