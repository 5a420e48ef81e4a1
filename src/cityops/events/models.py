"""The transactional outbox: events written in the same transaction as the change they describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime
from cityops.events.bus import Event


class OutboxEvent(Base):
    """One event waiting to be (or already) published on the bus.

    Rows are relayed in ``id`` order; ``published_at`` stays empty until the bus has accepted the event.
    Published rows are pruned after ``CITYOPS_OUTBOX_RETENTION_HOURS``.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_published_at_id", "published_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    def to_event(self) -> Event:
        return Event(
            subject=self.subject, payload=self.payload, id=self.event_id, occurred_at=self.occurred_at
        )
