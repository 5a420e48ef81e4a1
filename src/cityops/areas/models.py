"""Administrative units, versioned: official codes, level, parent, validity and lineage after mergers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime


class Area(Base):
    """One administrative unit in one period of validity.

    The statistics-office ``code`` is not a key: after 1 July 2025 new units reused old codes
    (phường Long An has the code of old Phường 1, Tân An), so a unit is (code, level, valid_from).
    """

    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("code", "level", "valid_from"),
        Index("ix_areas_parent_id", "parent_id"),
        Index("ix_areas_name_key", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    level: Mapped[str] = mapped_column(String(16))  # province | district | commune
    kind: Mapped[str] = mapped_column(String(32))  # Tỉnh, Thành phố, Huyện, Thị xã, Phường, Xã, Thị trấn
    name: Mapped[str] = mapped_column(String(128))
    name_key: Mapped[str] = mapped_column(String(128))  # cityops.text.search_key(name)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # exclusive; None = current
    lat: Mapped[float | None] = mapped_column(Float)  # representative point (centroid)
    lon: Mapped[float | None] = mapped_column(Float)
    area_km2: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # GeoJSON geometry, WGS 84
    geometry_approximate: Mapped[bool] = mapped_column(Boolean, default=True)
    geometry_source: Mapped[str | None] = mapped_column(String(64))
    # When the geometry last changed: the point-lookup index (cityops.areas.lookup) rebuilds when it moves.
    geometry_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the unit came from, e.g. "vietnamadminunits:legacy:tinhlongan_thanhphotanan_phuong1".
    source_key: Mapped[str | None] = mapped_column(String(160), index=True)

    @validates("geometry")
    def _stamp_geometry(self, _key: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
        self.geometry_changed_at = utcnow()
        return value

    @property
    def is_current(self) -> bool:
        return self.valid_to is None

    def valid_on(self, day: date) -> bool:
        """True when the unit existed on ``day`` (``valid_from`` inclusive, ``valid_to`` exclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day < self.valid_to
        )


class AreaLineage(Base):
    """predecessor → successor (many-to-many): merges, splits and renames."""

    __tablename__ = "area_lineage"

    predecessor_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    successor_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    effective: Mapped[date] = mapped_column(Date)
    relation: Mapped[str] = mapped_column(String(16), default="merged")  # merged | split | renamed
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)  # for a split: the main successor
