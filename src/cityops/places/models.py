"""Places: their types (synced from the sectors' ``place_types``), the places, and each place's status history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class PlaceType(Base):
    """A kind of place as a plugin declared it (a copy of its :class:`~cityops.specs.PlaceTypeSpec`).

    Kept as a row so places keep a valid foreign key and the API answers from one table; a type whose plugin
    is gone stays (``declared`` false), because places still point at it.
    """

    __tablename__ = "place_types"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    sector: Mapped[str] = mapped_column(String(64))
    icon: Mapped[str] = mapped_column(String(64), default="place")
    visibility: Mapped[str] = mapped_column(String(16), default="public")  # public | staff
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # AttributeSpec fields, in order
    statuses: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)  # [{code, name_vi, name_en}]
    default_status: Mapped[str] = mapped_column(String(32), default="")
    geometry_kinds: Mapped[list[str]] = mapped_column(JSONType)  # GeoJSON types a place may have
    description: Mapped[str] = mapped_column(Text, default="")
    plugin: Mapped[str] = mapped_column(String(128), default="")  # who declares it ("" before the first sync)
    declared: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Place(Base):
    """A located thing of the city: typed, with validated attributes, a geometry, its area and a status.

    ``lat``/``lon`` is a point on the geometry (its centroid when that lies on it) used for area resolution
    and markers; the ``min_*``/``max_*`` columns are its bounding box, for bbox queries on both backends.
    """

    __tablename__ = "places"
    __table_args__ = (
        UniqueConstraint("type_code", "source", "external_id"),
        Index("ix_places_type_code_name_key", "type_code", "name_key"),
        Index("ix_places_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("place_types.code", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(255))  # cityops.text.search_key(name)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONType)  # GeoJSON geometry, WGS 84
    geometry_kind: Mapped[str] = mapped_column(String(24))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    # The current unit containing lat/lon; re-resolved when boundaries change (cityops.places.areas).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str | None] = mapped_column(String(32), index=True)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(64), default="")  # the system external_id belongs to
    external_id: Mapped[str | None] = mapped_column(String(128))
    # The SensorThings Thing a station is (by table name: places import no capability).
    thing_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_things.id", ondelete="SET NULL"), unique=True
    )
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # exclusive; None = still there
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlaceStatusHistory(Base):
    """One status change of a place: from what, to what, when, by whom, why."""

    __tablename__ = "place_status_history"
    __table_args__ = (Index("ix_place_status_history_place_id_at", "place_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    previous: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(128))  # the actor's label (user, key, "system", "import:...")
    note: Mapped[str] = mapped_column(Text, default="")
