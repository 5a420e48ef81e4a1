"""Indicator definitions (synced from the plugins), their values per area and period, targets, populations.

A value is one cell: (indicator, area, period start). Periods are calendar periods of Vietnam
(Asia/Ho_Chi_Minh): ``period_start`` is the local date the period begins (the 1st of a month, of a quarter,
1 January). Cells are kept for today's units only: a fact of an old unit counts for its lineage successor.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class IndicatorSet(Base):
    """A published set (the national smart-city set, ISO 37122, the scheme's own), from ``indicator_sets``."""

    __tablename__ = "indicator_sets"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    publisher: Mapped[str] = mapped_column(String(200), default="")
    document: Mapped[str] = mapped_column(String(300), default="")
    year: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(500), default="")
    plugin: Mapped[str] = mapped_column(String(200), default="")


class Indicator(Base):
    """An indicator as its plugin declares it (``indicators`` hook); ``active`` is false once undeclared."""

    __tablename__ = "indicators"

    code: Mapped[str] = mapped_column(String(96), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))  # higher | lower | none
    period: Mapped[str] = mapped_column(String(8))  # day | month | quarter | year
    source: Mapped[str] = mapped_column(String(16))  # cases | observations | places | manual
    sector: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(96), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    levels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    aggregation: Mapped[str] = mapped_column(String(16), default="ratio")
    description_vi: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    source_document: Mapped[str] = mapped_column(String(300), default="")
    decimals: Mapped[int] = mapped_column(Integer, default=1)
    plugin: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    by_agency: Mapped[bool] = mapped_column(Boolean, default=False)  # also kept per agency


class IndicatorSetMember(Base):
    """An indicator's place in a set, with the set's own number for it (e.g. "2.3")."""

    __tablename__ = "indicator_set_members"

    set_code: Mapped[str] = mapped_column(
        ForeignKey("indicator_sets.code", ondelete="CASCADE"), primary_key=True
    )
    indicator_code: Mapped[str] = mapped_column(
        ForeignKey("indicators.code", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(32), default="")


class IndicatorValue(Base):
    """One cell with its provenance: computed (method, inputs, computed_at) or manual (who, document, note).

    ``stale`` is set when an event touched the cell's facts and cleared when it is recomputed; a read never
    recomputes. ``numerator``/``denominator`` keep what a rate or mean was made of. ``agency_id`` is the
    agency breakdown: NULL is the cell of all agencies (the only one staleness is kept on), a row with an
    agency holds that agency's share of the same facts, recomputed with its all-agencies cell. One row per
    (indicator, area, period, agency) — unique over ``coalesce(agency_id, 0)``, as NULLs are distinct in a
    unique key on both backends.
    """

    __tablename__ = "indicator_values"
    __table_args__ = (
        Index("ix_indicator_values_area", "area_id", "indicator_code", "period_start"),
        Index("ix_indicator_values_stale", "stale"),
        Index("ix_indicator_values_agency", "agency_id", "indicator_code", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicators.code", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    period_start: Mapped[date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    inputs: Mapped[int] = mapped_column(Integer, default=0)
    origin: Mapped[str] = mapped_column(String(8))  # computed | manual
    method: Mapped[str] = mapped_column(String(96), default="")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source_document: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


Index(
    "uq_indicator_values_cell",
    IndicatorValue.indicator_code,
    IndicatorValue.area_id,
    IndicatorValue.period_start,
    func.coalesce(IndicatorValue.agency_id, 0),
    unique=True,
)


class IndicatorTarget(Base):
    """The value an area aims at for an indicator in a year (compared with the year's latest value)."""

    __tablename__ = "indicator_targets"
    __table_args__ = (UniqueConstraint("indicator_code", "area_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicators.code", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)


class AreaPopulation(Base):
    """Residents of an area in a year (statistics office), the denominator of per-capita indicators."""

    __tablename__ = "area_populations"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    population: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300), default="")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
