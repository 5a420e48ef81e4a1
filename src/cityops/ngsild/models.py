"""NGSI-LD's own rows: generic entities (not places or stations), subscriptions and their notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime


class NgsiEntity(Base):
    """An entity created through NGSI-LD that is no place or station: stored as given (normalized form)."""

    __tablename__ = "ngsild_entities"
    __table_args__ = (Index("ix_ngsild_entities_type", "type"),)

    id: Mapped[str] = mapped_column(String(512), primary_key=True)  # the entity's URI
    type: Mapped[str] = mapped_column(String(255))
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONType)  # attribute name -> normalized attribute
    context: Mapped[Any] = mapped_column(JSONType, nullable=True)  # the @context it was created with
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NgsiSubscription(Base):
    """A subscription: which entities and attributes, the endpoint notified, and its state."""

    __tablename__ = "ngsild_subscriptions"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the subscription as given (plus defaults)
    active: Mapped[bool] = mapped_column(default=True)
    owner: Mapped[str] = mapped_column(String(128), default="")  # who created it: key:<id> or user:<id>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NgsiNotification(Base):
    """One notification to deliver: pending until sent, retried with back-off, dead after too many tries."""

    __tablename__ = "ngsild_notifications"
    __table_args__ = (Index("ix_ngsild_notifications_state_next_at", "state", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("ngsild_subscriptions.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
