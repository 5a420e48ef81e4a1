"""Tables of a programme: the programme, its phases (with their areas), component projects and disbursements.

Money is whole VND in 64-bit integers (500 bn VND needs more than 32 bits); dates are calendar dates.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, UTCDateTime

PROJECT_STATUSES = ("planned", "in_progress", "completed", "cancelled")


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    decision: Mapped[str] = mapped_column(String(300), default="")  # the approving decision
    approved_on: Mapped[date | None] = mapped_column(Date)
    lead_agency: Mapped[str] = mapped_column(String(200), default="")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    budget_planned_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(Text, default="")  # where the figures come from
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProgrammePhase(Base):
    __tablename__ = "programme_phases"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    description_vi: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")


class ProgrammePhaseArea(Base):
    """The areas a phase covers, as they were named in the programme (lineage leads to today's units)."""

    __tablename__ = "programme_phase_areas"

    phase_id: Mapped[int] = mapped_column(
        ForeignKey("programme_phases.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), primary_key=True)


class ProgrammeProject(Base):
    """A component project (dự án thành phần) or task of a programme."""

    __tablename__ = "programme_projects"
    __table_args__ = (
        UniqueConstraint("programme_id", "code"),
        Index("ix_programme_projects_phase", "phase_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("programme_phases.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(64))
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    sector: Mapped[str] = mapped_column(String(64), default="")
    lead: Mapped[str] = mapped_column(String(200), default="")
    budget_planned_vnd: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    progress_pct: Mapped[float] = mapped_column(Float, default=0.0)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Disbursement(Base):
    """Money actually paid out for a project (giải ngân), with the document it is recorded in."""

    __tablename__ = "programme_disbursements"
    __table_args__ = (Index("ix_programme_disbursements_project", "project_id", "disbursed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("programme_projects.id", ondelete="CASCADE"))
    disbursed_on: Mapped[date] = mapped_column(Date)
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
