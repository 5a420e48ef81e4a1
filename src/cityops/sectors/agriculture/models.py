"""Salinity bulletins (bản tin mặn) as published (one row per commune, crop and issue, kept as history) and the
administrators' edits of the crop tolerances."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class SalinityBulletin(Base):
    """One published bulletin: the advice for a crop in a commune on a local day (re-issued on change)."""

    __tablename__ = "agri_bulletins"
    __table_args__ = (Index("ix_agri_bulletins_area_crop_issued", "area_id", "crop", "issued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    crop: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)  # the local day (Asia/Ho_Chi_Minh) it is for
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    station_code: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # safe | caution | harm | unknown
    observed_g_l: Mapped[float | None] = mapped_column(Float)
    forecast_g_l: Mapped[float | None] = mapped_column(Float)
    season: Mapped[str | None] = mapped_column(String(32))
    intake_window: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType
    )  # safe intake window {start, end, source}
    fingerprint: Mapped[str] = mapped_column(String(64))  # what makes a re-issue "a change"
    text_vi: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)


class CropTolerance(Base):
    """An administrator's edit of a crop's tolerance, overriding ``data/crops.json`` (changes are audited)."""

    __tablename__ = "agri_crop_tolerances"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    caution_g_l: Mapped[float] = mapped_column(Float)
    harm_g_l: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128))
