"""Citizen reports (cases): categories, cases, the reporter's personal data kept apart, the append-only
timeline, joint handling, extensions, media links, follow-up (subscriptions, ratings). Stored
``Idempotency-Key`` answers are the core's (:mod:`cityops.idempotency`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class Category(Base):
    """A case category, synced from the sectors' ``case_categories`` hook (see ``categories.py``)."""

    __tablename__ = "case_categories"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(600), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(100), default="")
    sla_hours: Mapped[float] = mapped_column(Float, default=40.0)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    sector: Mapped[str] = mapped_column(String(64), default="core")
    order: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Case(Base):
    """A citizen report (or operator-entered case). No personal data here: see :class:`CaseReporter`."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_agency_state", "agency_id", "state"),
        Index("ix_cases_category_state", "category_code", "state"),
        Index("ix_cases_lat_lon", "lat", "lon"),
        Index("ix_cases_submitted_at", "submitted_at"),
        Index("ix_cases_h3", "h3_cell"),
        # the IOC summary's range counts and the public map's clustering read these without the table
        Index("ix_cases_hidden_submitted", "hidden", "submitted_at", "area_id"),
        Index("ix_cases_hidden_state", "hidden", "state", "overdue", "area_id"),
        Index("ix_cases_hidden_resolved", "hidden", "resolved_at", "resolve_due_at", "area_id"),
        # the map's viewport points (PostgreSQL: ids from the index alone) and its clusters' rim strips
        Index("ix_cases_hidden_lat_lon_state", "hidden", "lat", "lon", "state", postgresql_include=["id"]),
        Index("ix_cases_hidden_lon_lat_state", "hidden", "lon", "lat", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(32), unique=True)  # PA-2026-000123, set after insert
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 of the tracking token
    category_code: Mapped[str] = mapped_column(ForeignKey("case_categories.code", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(Text, default="")
    description_key: Mapped[str] = mapped_column(Text, default="")  # staff search: the text as written
    # public search: the key of the masked text, so ``?q=`` cannot find what the public does not see
    public_key: Mapped[str] = mapped_column(Text, default="")
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str] = mapped_column(String(16), default="device")  # device | exif | address
    address: Mapped[str | None] = mapped_column(String(500))
    h3_cell: Mapped[str | None] = mapped_column(String(20))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(20), default="submitted")
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | open311 | operator
    master_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_purpose: Mapped[str] = mapped_column(String(200), default="")
    public_note: Mapped[str | None] = mapped_column(Text)  # the latest public status note
    resolution_note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SLA: deadlines (working calendar) and the sweep's marks
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_hours: Mapped[float] = mapped_column(Float, default=40.0)
    extended_hours: Mapped[float] = mapped_column(Float, default=0.0)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # moderated out of public views
    # optimistic locking: two officers acting on the same case at once → the second gets 409, not a lost update
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative attribute


class CaseReporter(Base):
    """The reporter's personal data, kept apart from the case; visible only to staff handling it.

    A merged duplicate's reporters get a row on the master (``merged_from_id``), so they follow it.
    """

    __tablename__ = "case_reporters"
    __table_args__ = (
        Index("ix_case_reporters_case_id", "case_id"),
        Index("ix_case_reporters_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    device_id: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(200))
    merged_from_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseEvent(Base):
    """The append-only case timeline: transitions, assignments, comments, internal notes, SLA marks."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_role: Mapped[str] = mapped_column(String(20), default="system")
    kind: Mapped[str] = mapped_column(String(32))  # submitted | transition | note | comment | sla | ...
    action: Mapped[str | None] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class CaseAgency(Base):
    """Agencies handling a case jointly: the lead is ``cases.agency_id``; rows here are supporting agencies."""

    __tablename__ = "case_agencies"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="support")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseExtension(Base):
    """A deadline extension an officer asks for and a supervisor approves or denies."""

    __tablename__ = "case_extensions"
    __table_args__ = (Index("ix_case_extensions_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    hours: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | denied
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)


class CaseMedia(Base):
    """A photo or video attached to a case. Public only once staff reviewed it: the review state (approved,
    hidden, redacted) is the media item's own (``cityops.media``)."""

    __tablename__ = "case_media"
    __table_args__ = (Index("ix_case_media_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id", ondelete="RESTRICT"))
    role: Mapped[str] = mapped_column(String(16), default="report")  # report | after
    url: Mapped[str | None] = mapped_column(String(500))  # an external media_url (Open311), never public
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseSubscription(Base):
    """Someone following a case (a signed-in user, or a contact given with the tracking token)."""

    __tablename__ = "case_subscriptions"
    __table_args__ = (
        Index("ix_case_subscriptions_case_id", "case_id"),
        # the per-address and per-client limits on verification codes count the last hour's rows
        Index("ix_case_subscriptions_address", "address", "created_at"),
        Index("ix_case_subscriptions_requested_from", "requested_from", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16), default="push")  # push | sms | email
    address: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A typed address is followed only once its owner entered the code sent to it; until then the row
    # holds the code's salted hash, expiry and wrong entries. Accounts (push) are verified at creation.
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_from: Mapped[str | None] = mapped_column(String(64))  # keyed hash of the client IP (limits)


class CaseRating(Base):
    """A reporter's satisfaction rating (1–5) after resolution; one per case and rater."""

    __tablename__ = "case_ratings"
    __table_args__ = (UniqueConstraint("case_id", "rater"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    rater: Mapped[str] = mapped_column(String(80))  # "user:<id>" or "token"
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResponseTemplate(Base):
    """A reusable answer text for officers (per agency, or shared when ``agency_id`` is null)."""

    __tablename__ = "case_response_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    action: Mapped[str | None] = mapped_column(String(32))  # the action it fits (resolve, reject, ...)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
