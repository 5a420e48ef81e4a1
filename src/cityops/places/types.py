"""Place types: synced from the ``place_types`` hook into their table, and read back as typed specs.

The table is what places point at and what validation reads, so a place stays valid (and readable) when the
plugin that declared its type is removed: such a type is kept with ``declared`` false, never deleted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops import plugins
from cityops.clock import utcnow
from cityops.errors import Invalid
from cityops.places.models import PlaceType
from cityops.specs import AttributeSpec, AttributeType, PlaceTypeSpec, SpecError, StatusSpec
from cityops.text import nfc

_GEOMETRY_KINDS = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}


def check_spec(plugin: str, spec: PlaceTypeSpec) -> None:
    """Refuse a declaration the places capability could not honour, naming the plugin."""

    def fail(why: str) -> None:
        raise SpecError(f"plugin {plugin}: place type {spec.code!r} {why}")

    if not spec.code or len(spec.code) > 64 or not spec.code.replace("_", "").isalnum():
        fail("needs a code of letters, digits and '_' (at most 64)")
    if spec.visibility not in ("public", "staff"):
        fail(f"has visibility {spec.visibility!r}, not public or staff")
    if not spec.geometry or set(spec.geometry) - _GEOMETRY_KINDS:
        fail(f"allows unknown geometry kinds {sorted(set(spec.geometry) - _GEOMETRY_KINDS)}")
    codes = [a.code for a in spec.attributes]
    if len(set(codes)) != len(codes):
        fail("declares an attribute twice")
    for attr in spec.attributes:
        if attr.type is AttributeType.ENUM and not attr.values:
            fail(f"attribute {attr.code!r} is an enum without values")
    statuses = [s.code for s in spec.statuses]
    if len(set(statuses)) != len(statuses):
        fail("declares a status twice")
    if spec.default_status and spec.default_status not in statuses:
        fail(f"has default status {spec.default_status!r} that is not one of its statuses")


def declared_types() -> list[tuple[str, PlaceTypeSpec]]:
    """Every ``(plugin, spec)`` the plugins declare, checked (a wrong one raises SpecError naming the plugin)."""
    found = plugins.declarations("place_types", PlaceTypeSpec)
    for plugin, spec in found:
        check_spec(plugin, spec)
    return found


def _row_values(plugin: str, spec: PlaceTypeSpec) -> dict[str, Any]:
    return {
        "name_vi": nfc(spec.name_vi),
        "name_en": nfc(spec.name_en),
        "sector": spec.sector,
        "icon": spec.icon,
        "visibility": spec.visibility,
        "attributes": [_attribute_dict(a) for a in spec.attributes],
        "statuses": [asdict(s) for s in spec.statuses],
        "default_status": spec.default_status,
        "geometry_kinds": list(spec.geometry),
        "description": spec.description,
        "plugin": plugin,
        "declared": True,
    }


def _attribute_dict(attr: AttributeSpec) -> dict[str, Any]:
    data = asdict(attr)
    data["type"] = str(attr.type.value)
    data["values"] = [list(v) for v in attr.values]
    return data


def sync_place_types(session: Session, declared: list[tuple[str, PlaceTypeSpec]] | None = None) -> int:
    """Upsert the declared place types (idempotent; flushes, does not commit); return how many are declared.

    Types no longer declared are kept and marked ``declared = False`` (places still reference them).
    """
    declared = declared_types() if declared is None else declared
    existing = {t.code: t for t in session.scalars(select(PlaceType))}
    now = utcnow()
    for plugin, spec in declared:
        want = _row_values(plugin, spec)
        row = existing.get(spec.code)
        if row is None:
            session.add(PlaceType(code=spec.code, synced_at=now, **want))
            continue
        if any(getattr(row, k) != v for k, v in want.items()):
            for key, value in want.items():
                setattr(row, key, value)
            row.synced_at = now
    names = {spec.code for _, spec in declared}
    for code, row in existing.items():
        if code not in names and row.declared:
            row.declared = False
    session.flush()
    return len(names)


def attribute_specs(row: PlaceType) -> list[AttributeSpec]:
    """The attribute schema stored with a type, as specs."""
    out = []
    for data in row.attributes or []:
        fields = dict(data)
        fields["type"] = AttributeType(fields.get("type", "string"))
        fields["values"] = tuple(tuple(v) for v in fields.get("values") or ())
        out.append(
            AttributeSpec(**{k: v for k, v in fields.items() if k in AttributeSpec.__dataclass_fields__})
        )
    return out


def status_specs(row: PlaceType) -> list[StatusSpec]:
    return [StatusSpec(s["code"], s.get("name_vi", ""), s.get("name_en", "")) for s in row.statuses or []]


def get_type(session: Session, code: str) -> PlaceType:
    """The type of ``code``; when the table lacks it, the declarations are synced first (a fresh database
    that never started the server, e.g. ``cityops demo``). Unknown → 422 naming the known codes."""
    row = session.get(PlaceType, code)
    if row is not None:
        return row
    declared = {spec.code for _, spec in declared_types()}
    if code in declared:
        sync_place_types(session)
        row = session.get(PlaceType, code)
    if row is None:
        known = sorted(declared | set(session.scalars(select(PlaceType.code))))
        raise Invalid(f"Unknown place type {code!r}", details={"field": "type", "known": known})
    return row


def all_types(session: Session) -> list[PlaceType]:
    """Every type, sector then code order (a few dozen rows at most)."""
    return list(session.scalars(select(PlaceType).order_by(PlaceType.sector, PlaceType.code)))
