"""What the places API answers: typed response models, and the same places as GeoJSON and CSV.

Every renderer takes the caller's ``staff`` flag and drops staff-only attributes for everyone else, so JSON,
GeoJSON and CSV cannot disagree about what a citizen sees.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from cityops.places.attributes import visible_attributes
from cityops.places.models import Place, PlaceStatusHistory, PlaceType
from cityops.places.types import attribute_specs


class AttributeOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    type: str
    required: bool
    staff_only: bool
    unit: str
    values: list[list[str]] = Field(description="[key, name_vi, name_en] of enum values or map keys")
    minimum: float | None
    maximum: float | None
    max_length: int


class StatusOut(BaseModel):
    code: str
    name_vi: str
    name_en: str


class PlaceTypeOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    sector: str
    icon: str
    visibility: str = Field(description="public, or staff: only staff see places of this type")
    attributes: list[AttributeOut]
    statuses: list[StatusOut]
    default_status: str
    geometry_kinds: list[str]
    description: str

    @classmethod
    def of(cls, row: PlaceType, *, staff: bool) -> PlaceTypeOut:
        specs = [a for a in attribute_specs(row) if staff or not a.staff_only]
        return cls(
            code=row.code,
            name_vi=row.name_vi,
            name_en=row.name_en,
            sector=row.sector,
            icon=row.icon,
            visibility=row.visibility,
            attributes=[
                AttributeOut(
                    code=a.code,
                    name_vi=a.name_vi,
                    name_en=a.name_en,
                    type=str(a.type.value),
                    required=a.required,
                    staff_only=a.staff_only,
                    unit=a.unit,
                    values=[list(v) for v in a.values],
                    minimum=a.minimum,
                    maximum=a.maximum,
                    max_length=a.max_length,
                )
                for a in specs
            ],
            statuses=[StatusOut(**s) for s in row.statuses or []],
            default_status=row.default_status,
            geometry_kinds=list(row.geometry_kinds or []),
            description=row.description,
        )


class AreaRefOut(BaseModel):
    id: int
    code: str
    name: str


class PlaceOut(BaseModel):
    id: int
    type: str
    name: str
    geometry: dict[str, Any] = Field(description="GeoJSON geometry, WGS 84")
    geometry_kind: str
    lat: float = Field(description="A point on the geometry (its centroid when that lies on it)")
    lon: float
    bbox: list[float] = Field(description="min_lon, min_lat, max_lon, max_lat")
    area: AreaRefOut | None
    attributes: dict[str, Any]
    status: str | None
    status_at: datetime | None
    source: str
    external_id: str | None
    thing_id: int | None
    valid_from: date | None
    valid_to: date | None
    demo: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls, place: Place, ptype: PlaceType, area: tuple[str | None, str | None], *, staff: bool
    ) -> PlaceOut:
        code, name = area
        return cls(
            id=place.id,
            type=place.type_code,
            name=place.name,
            geometry=place.geometry,
            geometry_kind=place.geometry_kind,
            lat=place.lat,
            lon=place.lon,
            bbox=[place.min_lon, place.min_lat, place.max_lon, place.max_lat],
            area=AreaRefOut(id=place.area_id, code=code or "", name=name or "")
            if place.area_id is not None
            else None,
            attributes=visible_attributes(attribute_specs(ptype), place.attributes or {}, staff=staff),
            status=place.status,
            status_at=place.status_at,
            source=place.source,
            external_id=place.external_id,
            thing_id=place.thing_id,
            valid_from=place.valid_from,
            valid_to=place.valid_to,
            demo=place.demo,
            created_at=place.created_at,
            updated_at=place.updated_at,
        )


class PlacePage(BaseModel):
    items: list[PlaceOut]
    total: int
    limit: int
    offset: int


class StatusChangeOut(BaseModel):
    id: int
    place_id: int
    status: str
    previous: str | None
    at: datetime
    by: str
    note: str

    @classmethod
    def of(cls, row: PlaceStatusHistory) -> StatusChangeOut:
        return cls(
            id=row.id,
            place_id=row.place_id,
            status=row.status,
            previous=row.previous,
            at=row.at,
            by=row.by,
            note=row.note,
        )


class StatusHistoryPage(BaseModel):
    items: list[StatusChangeOut]
    total: int
    limit: int
    offset: int


def feature_collection(items: Sequence[PlaceOut], *, total: int, limit: int, offset: int) -> dict[str, Any]:
    """RFC 7946 features (id, geometry, the other fields as properties) plus the page as foreign members."""
    features = []
    for item in items:
        props = item.model_dump(mode="json", exclude={"geometry"})
        features.append({"type": "Feature", "id": item.id, "geometry": item.geometry, "properties": props})
    return {
        "type": "FeatureCollection",
        "features": features,
        "total": total,
        "limit": limit,
        "offset": offset,
    }


CSV_COLUMNS = (
    "id",
    "type",
    "name",
    "lat",
    "lon",
    "geometry_kind",
    "area_id",
    "area_code",
    "area_name",
    "status",
    "status_at",
    "source",
    "external_id",
    "thing_id",
    "valid_from",
    "valid_to",
    "demo",
)


def to_csv(items: Sequence[PlaceOut], types: dict[str, PlaceType], *, staff: bool) -> str:
    """One row per place: the fixed columns, then ``attributes.<code>`` for every attribute the caller may
    see of the types present (in the types' declared order); non-point geometries by their anchor point."""
    attr_codes: list[str] = []
    for code in dict.fromkeys(i.type for i in items):
        for spec in attribute_specs(types[code]):
            if (staff or not spec.staff_only) and spec.code not in attr_codes:
                attr_codes.append(spec.code)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, *(f"attributes.{c}" for c in attr_codes)])
    for item in items:
        row = item.model_dump(mode="json")
        area = row.pop("area") or {}
        row.update(area_id=area.get("id"), area_code=area.get("code"), area_name=area.get("name"))
        attrs = row["attributes"]
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS] + [_cell(attrs.get(c)) for c in attr_codes])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        import orjson

        return orjson.dumps(value).decode()
    text = str(value)
    # a text cell a spreadsheet would run as a formula is quoted (CSV injection)
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@") else text
