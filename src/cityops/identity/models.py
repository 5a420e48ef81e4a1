"""Identity: users and their roles, agencies with a jurisdiction, API keys, sessions, login attempts.

Secrets are never stored: passwords as argon2 hashes, tokens and API keys as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime


class Role(StrEnum):
    """What a person does in cityops (DESIGN.md §1). One role per user; agencies come from memberships."""

    CITIZEN = "citizen"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMIN})


class AgencyKind(StrEnum):
    WARD_COMMITTEE = "ward_committee"  # Ủy ban nhân dân phường/xã
    DEPARTMENT = "department"  # Sở
    POLICE = "police"  # Công an
    OTHER = "other"


class ApiScope(StrEnum):
    """What an API key may do."""

    INGEST = "ingest"  # a device or gateway pushes observations (limited to its thing_id when set)
    READ = "read"  # a read-only integrator
    OPEN311 = "open311"  # the `api_key` of Open311 POST requests
    DOSSIERS = "dossiers"  # the province's one-stop-shop system pushes dossier statuses (#19)


class SessionKind(StrEnum):
    BEARER = "bearer"  # Authorization: Bearer <token>
    COOKIE = "cookie"  # browser session cookie; unsafe methods need the CSRF header


def _enum(cls: type[StrEnum], length: int) -> SqlEnum:
    """Store the enum's value as a plain string (no native enum type), read it back as the enum."""
    return SqlEnum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(
        String(20), unique=True
    )  # +84… (identity.phones.normalize_phone)
    email: Mapped[str | None] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(128), default="")
    # search_key of full name, username and email: the user search (users.name_key_for).
    name_key: Mapped[str] = mapped_column(String(512), default="", index=True)
    # None: no password sign-in (e.g. a citizen who will sign in by phone OTP).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, 16), default=Role.CITIZEN)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def agency_ids(self) -> list[int]:
        return sorted(m.agency_id for m in self.memberships)

    @property
    def label(self) -> str:
        return self.username or self.phone or self.email or f"user:{self.id}"


class Agency(Base):
    """A handling unit: a ward/commune People's Committee, a provincial department, the police."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(255), index=True)  # cityops.text.search_key(name)
    kind: Mapped[AgencyKind] = mapped_column(_enum(AgencyKind, 32), default=AgencyKind.OTHER)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"))

    jurisdictions: Mapped[list[AgencyJurisdiction]] = relationship(
        back_populates="agency", cascade="all, delete-orphan", lazy="selectin"
    )


class AgencyJurisdiction(Base):
    """The agency handles cases in ``area_id`` (and the units inside it) of ``category_code`` (None = all)."""

    __tablename__ = "agency_jurisdictions"
    __table_args__ = (
        UniqueConstraint("agency_id", "area_id", "category_code", name="agency_area_category"),
        Index("ix_agency_jurisdictions_area_id", "area_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    category_code: Mapped[str | None] = mapped_column(String(64))

    agency: Mapped[Agency] = relationship(back_populates="jurisdictions")


class Membership(Base):
    """An officer or supervisor works for an agency."""

    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    user: Mapped[User] = relationship(back_populates="memberships")


class ApiKey(Base):
    """A scoped key for a device, gateway or integrator. The full key is shown once, at creation.

    ``secret_hash`` is SHA-256 of the whole key, not argon2: the key carries 256 random bits, so a
    slow hash adds no protection against guessing (there is nothing to brute-force), while devices
    present it on every request, where argon2 would cost ~50 ms of CPU each time; a plain digest
    also lets the key be found by an indexed lookup. Passwords, chosen by people, get argon2.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))  # first characters of the key, shown in lists
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    owner_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"))
    thing_id: Mapped[int | None] = mapped_column(Integer)  # SensorThings Thing this key may feed (no FK)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # request quotas an admin sets (None: unlimited); counted by cityops.security.quotas (#15)
    quota_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quota_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class AuthSession(Base):
    """A signed-in session: a bearer token or a browser cookie (only the token's hash is kept)."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SessionKind] = mapped_column(_enum(SessionKind, 8), default=SessionKind.BEARER)
    csrf_token: Mapped[str | None] = mapped_column(String(64))  # cookie sessions only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(lazy="joined")

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class LoginAttempt(Base):
    """One sign-in attempt, by account and by client IP, for throttling across API workers."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_key", "key_kind", "key", "at"),
        Index("ix_login_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_kind: Mapped[str] = mapped_column(String(8))  # account | ip
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean, default=False)
