"""The dossier store: administrative dossiers (hồ sơ thủ tục hành chính) pushed by the one-stop-shop system.

Nothing personal is kept: no applicant name, no phone or ID number. The second factor a citizen types to look
a dossier up (the last 4 digits of the phone or ID number on record) is stored only as a keyed hash with a
per-row salt (:mod:`cityops.sectors.public_services.factors`). Lookups are logged with keyed hashes of the
client address and the typed code, never the typed digits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cityops.clock import utcnow
from cityops.db import Base, UTCDateTime


class Dossier(Base):
    """One dossier as the one-stop-shop system last stated it (idempotent upserts on ``code``)."""

    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # maHoSo, upper-cased
    procedure_code: Mapped[str | None] = mapped_column(String(64))  # maTTHC
    procedure_name: Mapped[str] = mapped_column(String(500))  # tenTTHC
    agency_code: Mapped[str] = mapped_column(String(64), index=True)
    agency_name: Mapped[str] = mapped_column(String(255))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(4))  # national status code (statuses.py)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))  # ngayTiepNhan
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True), index=True)  # ngayHenTra
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))  # ngayTra
    factor_salt: Mapped[str] = mapped_column(String(32))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    id_hash: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))  # what the source stated: unchanged rows stay put
    source: Mapped[str] = mapped_column(String(64))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)

    steps: Mapped[list[DossierStep]] = relationship(
        back_populates="dossier",
        cascade="all, delete-orphan",
        order_by="DossierStep.position",
        lazy="selectin",
    )

    __table_args__ = (Index("ix_dossiers_agency_status", "agency_code", "status"),)


class DossierStep(Base):
    """A processing step (quá trình xử lý) with the agency that did it."""

    __tablename__ = "dossier_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    agency_name: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))

    dossier: Mapped[Dossier] = relationship(back_populates="steps")


class DossierLookup(Base):
    """One citizen lookup: when, the outcome, keyed hashes of the client and the typed code (rate limits)."""

    __tablename__ = "dossier_lookups"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow, index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # found, not_found, limited
    client_key: Mapped[str] = mapped_column(String(32), index=True)
    code_key: Mapped[str] = mapped_column(String(32), index=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="SET NULL"))
