"""Writing places: validate, create, update, change status (with history), delete; resolve their areas.

Every write is audited in the caller's transaction and emits one ``places.*`` event through the outbox (the
indicators and the NGSI-LD view follow places through them). Functions flush and never commit.

Deleting is a hard delete, with the audit entry keeping the whole row: a place that existed and is gone (a
market closed, a gate demolished) is *retired* by setting ``valid_to``, which keeps it, its history and the
facts that name it; ``DELETE`` is for rows that should never have existed (a duplicate, a wrong import).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import column, select, table, update
from sqlalchemy.orm import Session

from cityops.areas.lookup import area_index
from cityops.areas.service import today
from cityops.audit.service import record, snapshot
from cityops.clock import utcnow
from cityops.errors import Conflict, Invalid
from cityops.events.outbox import emit
from cityops.places.attributes import AttributeErrors, validate_attributes
from cityops.places.geometry import GeometryError, parse_geometry
from cityops.places.models import Place, PlaceStatusHistory, PlaceType
from cityops.places.types import attribute_specs, status_specs
from cityops.text import nfc, search_key

if TYPE_CHECKING:
    from starlette.requests import Request

    from cityops.identity.policy import Principal

FIELDS = (
    "name",
    "geometry",
    "attributes",
    "status",
    "source",
    "external_id",
    "thing_id",
    "valid_from",
    "valid_to",
)
_things = table("sta_things", column("id"))  # by name: places import no capability


def resolve_area_id(session: Session, lat: float, lon: float) -> int | None:
    """The finest current unit containing the point (a commune, else a coarser unit), or None outside all."""
    hits = area_index(session).find(lon, lat, at=today(), level=None)
    return hits[0].id if hits else None


def prepare(
    session: Session,
    ptype: PlaceType,
    fields: Mapping[str, Any],
    *,
    place: Place | None = None,
    crs: str | None = None,
    coerce: bool = False,
) -> dict[str, Any]:
    """The column values ``fields`` give a new place (``place`` None) or change on ``place``.

    Raises :class:`~cityops.errors.Invalid` (422) listing every problem as ``{"field", "msg"}``, and
    :class:`~cityops.errors.Conflict` (409) when the external id or the Thing is another place's.
    """
    problems: list[dict[str, str]] = []
    out: dict[str, Any] = {}
    unknown = set(fields) - set(FIELDS)
    problems += [{"field": name, "msg": "is not a field of a place"} for name in sorted(unknown)]
    if "name" in fields or place is None:
        name = nfc(str(fields.get("name") or ""))
        if not name or len(name) > 255:
            problems.append({"field": "name", "msg": "is required (1 to 255 characters)"})
        out.update(name=name, name_key=search_key(name))
    if "geometry" in fields or place is None:
        try:
            geometry = parse_geometry(fields.get("geometry"), allowed=ptype.geometry_kinds, crs=crs)
        except GeometryError as exc:
            problems.append({"field": "geometry", "msg": str(exc)})
        else:
            out.update(geometry.columns())
            out["area_id"] = resolve_area_id(session, geometry.lat, geometry.lon)
    if "attributes" in fields or place is None:
        raw = fields.get("attributes") or {}
        if not isinstance(raw, Mapping):
            problems.append({"field": "attributes", "msg": "must be an object"})
        else:
            try:
                base = place.attributes if place is not None else None
                out["attributes"] = validate_attributes(attribute_specs(ptype), raw, base=base, coerce=coerce)
            except AttributeErrors as exc:
                problems += exc.problems
    if "status" in fields or place is None:
        status = fields.get("status")
        codes = [s.code for s in status_specs(ptype)]
        if status is None and place is None:
            status = ptype.default_status or None
        if status is not None and status not in codes:
            msg = f"must be one of {', '.join(codes)}" if codes else "this place type has no statuses"
            problems.append({"field": "status", "msg": msg})
        out["status"] = status
    for key, limit in (("source", 64), ("external_id", 128)):
        if key in fields or place is None:
            value = fields.get(key)
            value = nfc(str(value)) if value is not None else ("" if key == "source" else None)
            if value is not None and len(value) > limit:
                problems.append({"field": key, "msg": f"must be at most {limit} characters"})
            out[key] = value or ("" if key == "source" else None)
    for key in ("valid_from", "valid_to"):
        if key in fields:
            value = fields[key]
            if isinstance(value, str):
                try:
                    value = date.fromisoformat(value.strip()) if value.strip() else None
                except ValueError:
                    problems.append({"field": key, "msg": "must be a date yyyy-mm-dd"})
                    continue
            out[key] = value
    start = out.get("valid_from", place.valid_from if place else None)
    end = out.get("valid_to", place.valid_to if place else None)
    if start is not None and end is not None and end <= start:
        problems.append({"field": "valid_to", "msg": "must be after valid_from"})
    if "thing_id" in fields and fields["thing_id"] is not None:
        thing_id = fields["thing_id"]
        if session.scalar(select(_things.c.id).where(_things.c.id == thing_id)) is None:
            problems.append({"field": "thing_id", "msg": f"no SensorThings Thing has id {thing_id}"})
        out["thing_id"] = thing_id
    elif "thing_id" in fields:
        out["thing_id"] = None
    if problems:
        raise Invalid("The place is not valid", details=problems)
    _check_unique(session, ptype.code, out, place)
    return out


def _check_unique(session: Session, type_code: str, values: Mapping[str, Any], place: Place | None) -> None:
    own = place.id if place is not None else -1
    source = values.get("source", place.source if place else "")
    external_id = values.get("external_id", place.external_id if place else None)
    if external_id is not None and ("external_id" in values or "source" in values):
        other = session.scalar(
            select(Place.id).where(
                Place.type_code == type_code,
                Place.source == source,
                Place.external_id == external_id,
                Place.id != own,
            )
        )
        if other is not None:
            raise Conflict(
                f"Place {other} already has external id {external_id!r} from {source or 'no source'!r}",
                details={"field": "external_id", "place_id": other},
            )
    thing_id = values.get("thing_id")
    if thing_id is not None:
        other = session.scalar(select(Place.id).where(Place.thing_id == thing_id, Place.id != own))
        if other is not None:
            raise Conflict(f"Thing {thing_id} is already place {other}", details={"field": "thing_id"})


def _event(session: Session, subject: str, place: Place) -> None:
    emit(
        session,
        subject,
        {"place_id": place.id, "type": place.type_code, "area_id": place.area_id, "status": place.status},
    )


def _history(
    session: Session, place: Place, previous: str | None, by: str, note: str = ""
) -> PlaceStatusHistory:
    entry = PlaceStatusHistory(
        place_id=place.id,
        status=place.status,
        previous=previous,
        at=place.status_at or utcnow(),
        by=by[:128],
        note=nfc(note),
    )
    session.add(entry)
    return entry


def _by(actor: Principal | None, label: str | None) -> str:
    return label or (actor.label if actor is not None else "system")


def create_place(
    session: Session,
    ptype: PlaceType,
    values: Mapping[str, Any],
    *,
    actor: Principal | None,
    request: Request | None = None,
    label: str | None = None,
    demo: bool = False,
) -> Place:
    """Add a place from :func:`prepare`'d values; its first status, if any, starts its history."""
    now = utcnow()
    place = Place(type_code=ptype.code, demo=demo, created_at=now, updated_at=now, **values)
    if place.status is not None:
        place.status_at = now
    session.add(place)
    session.flush()
    if place.status is not None:
        _history(session, place, None, _by(actor, label))
    record(session, actor, "place.create", "place", place.id, None, snapshot(place), request, label=label)
    _event(session, "places.created", place)
    return place


def update_place(
    session: Session,
    place: Place,
    values: Mapping[str, Any],
    *,
    actor: Principal | None,
    request: Request | None = None,
    label: str | None = None,
) -> bool:
    """Apply :func:`prepare`'d values; False (and nothing written) when they change nothing.

    A status given here is recorded in the history like :func:`change_status` does.
    """
    changed = {k: v for k, v in values.items() if k != "name_key" and getattr(place, k) != v}
    if not changed:
        return False
    before = snapshot(place)
    previous = place.status
    for key, value in values.items():
        setattr(place, key, value)
    place.updated_at = utcnow()
    if "status" in changed:
        place.status_at = place.updated_at
    session.flush()
    if "status" in changed and place.status is not None:
        _history(session, place, previous, _by(actor, label))
    record(session, actor, "place.update", "place", place.id, before, snapshot(place), request, label=label)
    _event(session, "places.updated", place)
    return True


def change_status(
    session: Session,
    place: Place,
    ptype: PlaceType,
    status: str,
    *,
    note: str = "",
    actor: Principal | None,
    request: Request | None = None,
) -> PlaceStatusHistory:
    """Move a place to ``status`` (one of its type's), appending to its history; 422 for an unknown status.

    Setting the status it already has is recorded too (an operator confirming a gate is still closed).
    """
    codes = [s.code for s in status_specs(ptype)]
    if status not in codes:
        msg = f"must be one of {', '.join(codes)}" if codes else "this place type has no statuses"
        raise Invalid("The status is not valid", details=[{"field": "status", "msg": msg}])
    before = snapshot(place)
    previous = place.status
    place.status = status
    place.status_at = place.updated_at = utcnow()
    session.flush()
    entry = _history(session, place, previous, _by(actor, None), note)
    session.flush()
    record(
        session,
        actor,
        "place.status",
        "place",
        place.id,
        before,
        snapshot(place, extra={"note": note}),
        request,
    )
    _event(session, "places.status_changed", place)
    return entry


def delete_place(
    session: Session, place: Place, *, actor: Principal | None, request: Request | None = None
) -> None:
    """Remove a place and its status history (the audit entry keeps the row)."""
    before = snapshot(place)
    payload = {
        "place_id": place.id,
        "type": place.type_code,
        "area_id": place.area_id,
        "status": place.status,
    }
    session.delete(place)
    session.flush()
    record(session, actor, "place.delete", "place", before["id"], before, None, request)
    emit(session, "places.deleted", payload)


def reresolve_areas(session: Session, *, chunk: int = 1000) -> int:
    """Recompute every place's area from its point (after boundaries changed); return how many moved.

    Reads in chunks and writes only the places whose area changed, with one audit entry for the batch.
    """
    moved: list[dict[str, Any]] = []
    last = 0
    while True:
        stmt = select(Place.id, Place.lat, Place.lon, Place.area_id).where(Place.id > last)
        rows = session.execute(stmt.order_by(Place.id).limit(chunk)).all()
        for place_id, lat, lon, area_id in rows:
            new = resolve_area_id(session, lat, lon)
            if new != area_id:
                moved.append({"id": place_id, "area_id": new, "before": area_id})
        if len(rows) < chunk:
            break
        last = rows[-1][0]
    if not moved:
        return 0
    session.execute(update(Place), [{"id": m["id"], "area_id": m["area_id"]} for m in moved])
    record(
        session,
        None,
        "place.reresolve_areas",
        "place",
        None,
        None,
        {"moved": len(moved), "places": moved[:500]},
        label="areas changed",
    )
    return len(moved)
