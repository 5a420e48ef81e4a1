"""The declared observed properties as SensorThings ObservedProperty rows, one per code.

Sectors declare their properties (``observed_properties`` hook, :class:`~cityops.specs.PropertySpec`);
:func:`sync_observed_properties` keeps one ``sta_observed_properties`` row per declared code (found by
``properties.code``, as the stations' Datastreams reference it), so a deployment that never loads the demo
can create Datastreams of its sectors' properties. Names, definition, UCUM unit and plausible range follow
the declaration; other ``properties`` keys someone added through the STA API stay. A row whose property is
no longer declared is left alone (Datastreams point at it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sensing.models import ObservedProperty
from cityops.specs import PropertySpec


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int


def _declared_fields(spec: PropertySpec) -> dict[str, Any]:
    return {
        "name": spec.name_en,
        "definition": spec.definition,
        "description": spec.name_vi,
        "ucum": spec.unit_symbol,
    }


def _declared_properties(spec: PropertySpec) -> dict[str, Any]:
    return {
        "code": spec.code,
        "name_vi": spec.name_vi,
        "valid_min": spec.valid_min,
        "valid_max": spec.valid_max,
        "sector": spec.sector,
    }


def sync_observed_properties(session: Session, specs: list[PropertySpec] | None = None) -> SyncResult:
    """Create or update the row of every declared property (idempotent: a second run changes nothing)."""
    if specs is None:
        from cityops.plugins import declarations

        specs = [spec for _, spec in declarations("observed_properties", PropertySpec)]
    by_code: dict[str, ObservedProperty] = {}
    for existing in session.scalars(select(ObservedProperty).order_by(ObservedProperty.id)):
        code = (existing.properties or {}).get("code")
        if isinstance(code, str):
            by_code.setdefault(code, existing)  # the oldest row of a code is the one Datastreams use
    created = updated = 0
    for spec in specs:
        fields, props = _declared_fields(spec), _declared_properties(spec)
        row = by_code.get(spec.code)
        if row is None:
            session.add(ObservedProperty(**fields, properties=props))
            created += 1
            continue
        merged = {**(row.properties or {}), **props}
        if any(getattr(row, k) != v for k, v in fields.items()) or merged != row.properties:
            for key, value in fields.items():
                setattr(row, key, value)
            row.properties = merged
            updated += 1
    session.flush()
    return SyncResult(created, updated)
